"""Hostile inputs for both services, as data: what is sent, and exactly what must come back.

Every ingest case is refused as a whole (a 4xx problem document, nothing published);
every API case is a 4xx problem, or, for a free-text search filter that legitimately
matches nothing, a 200 with no items. `tests/e2e/test_hostile_inputs.py` runs them all
against the real processes.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
NCTS_SAMPLE = (SAMPLES / "ncts_cc029c_release_for_transit.xml").read_bytes()
ETIR_SAMPLE: dict[str, Any] = json.loads((SAMPLES / "etir_i9_start.json").read_text())
EPERMIT_SAMPLE: dict[str, Any] = json.loads((SAMPLES / "epermit_permit_used.json").read_text())

MALFORMED = "/problems/malformed-body"
UNSAFE_XML = "/problems/unsafe-xml"
TOO_LARGE = "/problems/body-too-large"
INVALID_REQUEST = "/problems/invalid-request"  # the request itself (query, batch, body shape)
INVALID_EVENT = "/problems/invalid-event"  # every item of the batch was rejected
INVALID_INPUT = "/problems/invalid-input"  # a message broke a mapping rule
NOT_FOUND = "/problems/consignment-not-found"
EMPTY = "empty"  # a 200 whose `items` is empty


# Cases the services get wrong today, with why; the test marks them xfail so the suite
# stays green and flips to a failure (strict) the day they are fixed.
KNOWN_DEFECTS: dict[str, str] = {}
# Accepted and published today, so not sent at all (it would pollute the stack's topic).
UNBOUNDED: dict[str, str] = {}


@dataclass(frozen=True)
class Case:
    id: str
    service: str  # "ingest" or "api"
    path: str
    status: int
    problem: str  # the problem `type`, or EMPTY for a 200 with no items
    body: bytes | None = None
    content_type: str = "application/json"
    params: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # send the body without a Content-Length


def event(**overrides: Any) -> dict[str, Any]:
    """A canonical event that ingest would accept, before a case breaks it."""
    return {
        "event_id": str(uuid.UUID(int=0xC0FFEE)),
        "event_type": "gate.arrived",
        "occurred_at": "2026-11-20T06:15:00+05:00",
        "location": "KZ-NUR-ZHOLY",
        "consignment_id": "MC-HOSTILE-0001",
        "carrier_id": "carrier-kz-01",
        "source": {"system": "gate"},
    } | overrides


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _events(case_id: str, body: bytes, status: int, problem: str, **kw: Any) -> Case:
    return Case(f"events-{case_id}", "ingest", "/v1/events", status, problem, body, **kw)


# ------------------------------------------------------------------ /v1/events, JSON


def malformed_json() -> Iterator[Case]:
    valid = _json(event())
    texts = {
        "open-brace": b"{",
        "open-bracket": b"[",
        "dangling-key": b'{"event_id":',
        "single-quotes": b"{'event_id': 'x'}",
        "trailing-comma": b'{"event_id": "x",}',
        "unclosed-array": b"[1, 2,",
        "bare-word": b"event",
        "whitespace-only": b"   \n\t ",
        "two-documents": valid + valid,
        "comment": b'/* hi */ {"event_id": "x"}',
        "invalid-utf8": b'{"location": "\xff\xfe"}',
        "overlong-utf8-slash": b'{"location": "\xc0\xaf"}',
        "overlong-utf8-nul": b'{"location": "\xc0\x80"}',
        "control-char-in-string": b'{"location": "KZ\x01"}',
        "huge-integer-digits": b'{"occurred_at": ' + b"9" * 5000 + b"}",
        "unterminated-string": b'{"location": "KZ-NUR-ZHOLY}',
        "bad-escape": b'{"location": "\\x41"}',
        "xml-body": NCTS_SAMPLE,
    }
    for name, body in texts.items():
        yield _events(name, body, 400, MALFORMED)
    for cut in (1, 10, 40, 80, 120, len(valid) - 1):
        yield _events(f"truncated-at-{cut}", valid[:cut], 400, MALFORMED)
    # A UTF-8 BOM is tolerated (RFC 8259 allows it) but is no way past validation; bytes of
    # a UTF-16 surrogate decode to a lone surrogate, which the contract refuses.
    missing_id = _json({k: v for k, v in event().items() if k != "event_id"})
    yield _events("utf8-bom-before-invalid", b"\xef\xbb\xbf" + missing_id, 422, INVALID_EVENT)
    yield _events("cesu-surrogate-bytes", b'{"location": "\xed\xa0\x80"}', 422, INVALID_EVENT)
    yield _events("empty-body", b"", 422, INVALID_REQUEST)
    yield _events("empty-array", b"[]", 422, INVALID_REQUEST)
    # A nesting depth Python's parser refuses must be a 400, not a crash.
    yield _events("deeply-nested", b"[" * 100_000 + b"]" * 100_000, 400, MALFORMED)


def not_an_event() -> Iterator[Case]:
    for name, value in {
        "null": None,
        "true": True,
        "number": 42,
        "string": "gate.arrived",
        "nan": float("nan"),
        "array-of-numbers": [1, 2, 3],
        "array-of-arrays": [[event()]],
        "array-of-null": [None],
    }.items():
        body = json.dumps(value).encode()
        yield _events(f"not-an-object-{name}", body, 422, INVALID_EVENT)


REQUIRED = ("event_id", "event_type", "occurred_at", "location", "consignment_id", "carrier_id")


def wrong_types() -> Iterator[Case]:
    for name in (*REQUIRED, "source"):
        missing = {k: v for k, v in event().items() if k != name}
        yield _events(f"missing-{name}", _json(missing), 422, INVALID_EVENT)
    wrong: dict[str, tuple[str, Any]] = {
        "event_id-int": ("event_id", 123),
        "event_id-not-uuid": ("event_id", "not-a-uuid"),
        "event_type-int": ("event_type", 5),
        "event_type-unknown": ("event_type", "gate.teleported"),
        "occurred_at-bool": ("occurred_at", True),
        "occurred_at-naive": ("occurred_at", "2026-11-20T06:15:00"),
        "occurred_at-garbage": ("occurred_at", "yesterday"),
        "occurred_at-far-future": ("occurred_at", "9999-12-31T23:59:59Z"),
        "occurred_at-year-0": ("occurred_at", "0000-01-01T00:00:00Z"),
        "occurred_at-huge-float": ("occurred_at", 1e308),
        "occurred_at-infinity": ("occurred_at", float("inf")),
        "location-list": ("location", ["KZ-NUR-ZHOLY"]),
        "location-null": ("location", None),
        "consignment_id-object": ("consignment_id", {"id": 1}),
        "consignment_id-number": ("consignment_id", 1),
        "carrier_id-null": ("carrier_id", None),
        "source-string": ("source", "gate"),
        "source-unknown-system": ("source", {"system": "telepathy"}),
        "references-list": ("references", ["XH12345678"]),
        "attributes-string": ("attributes", "x"),
        "unknown-field": ("extra_field", "x"),
    }
    for name, (field_name, value) in wrong.items():
        body = json.dumps(event(**{field_name: value})).encode()
        yield _events(f"wrong-{name}", body, 422, INVALID_EVENT)


def huge_values() -> Iterator[Case]:
    for name, (field_name, value) in {
        "consignment_id-10k": ("consignment_id", "M" * 10_000),
        "carrier_id-100k": ("carrier_id", "c" * 100_000),
        "location-1MB": ("location", "KZ-" + "A" * 1_000_000),
        "source-message_type-10k": ("source", {"system": "gate", "message_type": "x" * 10_000}),
        "references-mrn-1k": ("references", {"mrn": "2" * 1000}),
        "references-10k-plates": ("references", {"vehicle_plates": ["01ABC123"] * 10_000}),
        "occurred_at-year-99999": ("occurred_at", "99999-01-01T00:00:00Z"),
        "occurred_at-offset-99h": ("occurred_at", "2026-11-20T06:15:00+99:00"),
        "event_id-128-bit-overflow": ("event_id", "1" * 33),
    }.items():
        yield _events(f"huge-{name}", _json(event(**{field_name: value})), 422, INVALID_EVENT)
    yield _events(
        "huge-batch-501",
        _json([event(event_id=str(uuid.uuid4())) for _ in range(501)]),
        422,
        INVALID_REQUEST,
    )
    yield _events("oversize-2MB", b"[" + b" " * 2_100_000 + b"]", 413, TOO_LARGE)
    yield _events(
        "oversize-chunked-3MB", b'["' + b"x" * 3_000_000 + b'"]', 413, TOO_LARGE, chunked=True
    )


UNICODE_IDS = {
    "nul": "MC-\u0000-1",
    "escaped-lone-high-surrogate": "MC-\ud800-1",
    "escaped-lone-low-surrogate": "MC-\udfff-1",
    "rtl-override": "MC-\u202e1000",
    "rtl-mark": "\u200fMC-1000",
    "zero-width-joiner": "MC\u200d-1000",
    "bom-inside": "MC-\ufeff1000",
    "cyrillic-homoglyph": "МС-1000",
    "fullwidth-digits": "MC-１０００",
    "emoji": "MC-🚚-1000",
    "newline": "MC-1000\nX-Injected: yes",
    "combining-marks": "M\u0301C-1000",
}


def unicode_edges() -> Iterator[Case]:
    # json.dumps escapes every non-ASCII character: lone surrogates travel as \ud800.
    for name, value in UNICODE_IDS.items():
        for field_name in ("consignment_id", "carrier_id", "location"):
            yield _events(
                f"unicode-{field_name}-{name}",
                _json(event(**{field_name: value})),
                422,
                INVALID_EVENT,
            )


def unknown_locations() -> Iterator[Case]:
    for name, value in {
        "nowhere": "XX-NOWHERE",
        "lowercase": "kz-nur-zholy",
        "empty": "",
        "cyrillic-o": "KZ-NUR-ZHОLY",
        "sql": "KZ'; DROP TABLE transit_events;--",
        "traversal": "../../etc/passwd",
        "format-string": "%s%s%s%n",
        "well-formed-but-unknown": "ZZ-ATLANTIS",
        "jndi": "${jndi:ldap://127.0.0.1:1/a}",
    }.items():
        yield _events(f"location-{name}", _json(event(location=value)), 422, INVALID_EVENT)


def bad_identifiers() -> Iterator[Case]:
    for name, references in {
        "mrn-wrong-shape": {"mrn": "NOT-AN-MRN"},
        "container-wrong-check-digit": {"container_numbers": ["CSQU3054384"]},
        "container-wrong-shape": {"container_numbers": ["1234"]},
        "tir-carnet-wrong-shape": {"tir_carnet": "QQ-NOT-A-CARNET"},
        "permit-id-to-itself": {"permit_id": "KZ-KZ-2026-1-1"},
        "permit-id-wrong-shape": {"permit_id": "permit-1"},
        "plate-too-long": {"vehicle_plates": ["A" * 40]},
    }.items():
        yield _events(f"identifier-{name}", _json(event(references=references)), 422, INVALID_EVENT)


# ---------------------------------------------------------------- /v1/messages/ncts

XXE_FILE = b"""<?xml version="1.0"?>
<!DOCTYPE ncts [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"><messageSender>&xxe;</messageSender></ncts:CC029C>"""
XXE_URL = b"""<?xml version="1.0"?>
<!DOCTYPE ncts [<!ENTITY xxe SYSTEM "http://127.0.0.1:1/steal">]>
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"><messageSender>&xxe;</messageSender></ncts:CC029C>"""
XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE ncts [<!ENTITY % p SYSTEM "http://127.0.0.1:1/evil.dtd"> %p;]>
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"/>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ncts SYSTEM "http://127.0.0.1:1/ncts.dtd">
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"/>"""
INTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ncts [<!ELEMENT ncts ANY>]>
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"/>"""
QUADRATIC = (
    b'<?xml version="1.0"?>\n<!DOCTYPE q [<!ENTITY a "'
    + b"a" * 50_000
    + b'">]>\n<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"><messageSender>'
    + b"&a;" * 10_000
    + b"</messageSender></ncts:CC029C>"
)


def _ncts(case_id: str, body: bytes, status: int, problem: str, **kw: Any) -> Case:
    return Case(
        f"ncts-{case_id}",
        "ingest",
        "/v1/messages/ncts",
        status,
        problem,
        body,
        content_type=kw.pop("content_type", "application/xml"),
        **kw,
    )


def ncts_cases() -> Iterator[Case]:
    attacks = {
        "xxe-file": XXE_FILE,
        "xxe-url": XXE_URL,
        "xxe-parameter-entity": XXE_PARAMETER,
        "external-dtd": EXTERNAL_DTD,
        "internal-dtd": INTERNAL_DTD,
        "billion-laughs": (SAMPLES / "xml_billion_laughs.xml").read_bytes(),
        "fixture-external-entity": (SAMPLES / "xml_external_entity.xml").read_bytes(),
        "quadratic-blowup": QUADRATIC,
        "xxe-netdoc": XXE_FILE.replace(b"file:///etc/passwd", b"netdoc:///etc/passwd"),
        "xxe-php-filter": XXE_FILE.replace(
            b"file:///etc/passwd", b"php://filter/convert.base64-encode/resource=/etc/passwd"
        ),
        "xxe-in-attribute": b"""<?xml version="1.0"?>
<!DOCTYPE n [<!ENTITY x SYSTEM "file:///etc/hostname">]>
<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec" PhaseID="&x;"/>""",
        "doctype-after-sample-prolog": NCTS_SAMPLE.replace(
            b"?>", b"?>\n<!DOCTYPE ncts:CC029C [<!ENTITY a 'b'>]>", 1
        ),
        "utf16-billion-laughs": (SAMPLES / "xml_billion_laughs.xml")
        .read_text()
        .replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
        .encode("utf-16"),
    }
    for name, body in attacks.items():
        yield _ncts(name, body, 400, UNSAFE_XML)
    malformed = {
        "lone-angle": b"<",
        "unclosed-root": b'<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec">',
        "mismatched-tags": b'<ncts:CC029C xmlns:ncts="http://ncts.dgtaxud.ec"></ncts:CC015C>',
        "undeclared-prefix": b"<ncts:CC029C/>",
        "text-only": b"just text",
        "json-body": _json(event()),
        "invalid-utf8": b'<?xml version="1.0" encoding="UTF-8"?><a>\xff\xfe</a>',
        "nul-byte": NCTS_SAMPLE.replace(b"NTA.GE", b"NTA\x00GE"),
        "wrong-namespace": NCTS_SAMPLE.replace(b"http://ncts.dgtaxud.ec", b"http://evil.example"),
        "no-namespace": b"<CC029C><messageType>CC029C</messageType></CC029C>",
        "two-roots": NCTS_SAMPLE + b"<again/>",
        "oversize-xml-1.1MB": NCTS_SAMPLE.replace(
            b"<messageSender>", b"<!--" + b"x" * 1_100_000 + b"--><messageSender>"
        ),
    }
    for name, body in malformed.items():
        yield _ncts(name, body, 400, MALFORMED)
    for cut in (20, 200, 1000, len(NCTS_SAMPLE) // 2, len(NCTS_SAMPLE) - 3):
        yield _ncts(f"truncated-at-{cut}", NCTS_SAMPLE[:cut], 400, MALFORMED)
    yield _ncts("empty-body", b"", 400, MALFORMED)
    invalid = {
        "unknown-message-type": NCTS_SAMPLE.replace(b"CC029C", b"CC999C"),
        "unknown-customs-office": NCTS_SAMPLE.replace(b"GE000201", b"XX999999"),
        "date-garbage": NCTS_SAMPLE.replace(b"2026-11-18T14:30:00", b"not-a-date"),
        "no-mrn-no-lrn": NCTS_SAMPLE.replace(b"<LRN>GETRD-2026-000042</LRN>", b"").replace(
            b"<MRN>24GE000201T0000420</MRN>", b""
        ),
        "mrn-sql": NCTS_SAMPLE.replace(b"24GE000201T0000420", b"' OR 1=1;--"),
        "customs-office-traversal": NCTS_SAMPLE.replace(b"GE000201", b"../../etc/passwd"),
    }
    for name, body in invalid.items():
        yield _ncts(name, body, 422, INVALID_INPUT)
    # Mapped fine, then refused by the intake's rules like a canonical event.
    # The event time of a CC029C is its releaseDate.
    far_future = NCTS_SAMPLE.replace(b"<releaseDate>2026-11-18", b"<releaseDate>2060-11-18")
    yield _ncts("date-far-future", far_future, 422, INVALID_EVENT)
    # Beyond the contract's instant window: refused while the message is mapped.
    year_9999 = NCTS_SAMPLE.replace(b"<releaseDate>2026-11-18", b"<releaseDate>9999-12-31")
    yield _ncts("date-year-9999", year_9999, 422, INVALID_INPUT)


# ------------------------------------------------------------ /v1/messages/etir, epermit


def _etir(case_id: str, body: bytes, status: int, problem: str, **kw: Any) -> Case:
    return Case(f"etir-{case_id}", "ingest", "/v1/messages/etir", status, problem, body, **kw)


def etir_cases() -> Iterator[Case]:
    for name, body in {
        "open-brace": b"{",
        "truncated": _json(ETIR_SAMPLE)[:50],
        "xml-body": NCTS_SAMPLE,
        "form-body": b"messageType=I9&tirCarnet=XH12345678",
        "invalid-utf8": b'{"messageType": "\xff"}',
    }.items():
        content_type = "application/x-www-form-urlencoded" if name == "form-body" else None
        extra = {"content_type": content_type} if content_type else {}
        yield _etir(name, body, 400, MALFORMED, **extra)
    changes: dict[str, dict[str, Any]] = {
        "unknown-type": {"messageType": "I99"},
        "carnet-wrong-shape": {"tirCarnet": "NOT-A-CARNET"},
        "holder-wrong-shape": {"holderId": "nobody"},
        "office-unknown": {"customsOffice": "XX000000"},
        "office-sql": {"customsOffice": "KZ' OR '1'='1"},
        "occurred-naive": {"occurredAt": "2026-11-20T06:40:00"},
        "extra-field": {"injected": "x"},
        "seals-not-list": {"seals": "KZ-SEAL-0042"},
        "carrier-nul": {"carrierId": "carrier\u0000"},
        "message-id-10k": {"messageId": "m" * 10_000},
        "control-result-unknown": {"controlResult": "ultraviolet"},
    }
    for name, change in changes.items():
        yield _etir(name, _json(ETIR_SAMPLE | change), 422, INVALID_INPUT)
    yield _etir("not-an-object", b"[1]", 422, INVALID_INPUT)
    refused_at_intake: dict[str, dict[str, Any]] = {
        "occurred-far-future": {"occurredAt": "2060-11-20T06:40:00+05:00"},
        "mrn-wrong-check-digit": {"mrn": "24GE000201T0000421"},
        "container-wrong-check-digit": {"containerNumbers": ["CSQU3054384"]},
    }
    for name, change in refused_at_intake.items():
        yield _etir(name, _json(ETIR_SAMPLE | change), 422, INVALID_EVENT)


def _epermit(case_id: str, body: bytes, status: int, problem: str, **kw: Any) -> Case:
    params = kw.pop("params", {"location": "AZ-ALAT"})
    return Case(
        f"epermit-{case_id}",
        "ingest",
        "/v1/messages/epermit",
        status,
        problem,
        body,
        params=params,
        **kw,
    )


def epermit_cases() -> Iterator[Case]:
    for name, body in {
        "open-brace": b"{",
        "truncated": _json(EPERMIT_SAMPLE)[:60],
        "xml-body": NCTS_SAMPLE,
    }.items():
        yield _epermit(name, body, 400, MALFORMED)
    permit_changes: dict[str, dict[str, Any]] = {
        "unknown-type": {"eventType": "PERMIT_STOLEN"},
        "timestamp-huge": {"eventTimestamp": 10**30, "activityTimestamp": 10**30},
        "timestamp-negative": {"eventTimestamp": -1, "activityTimestamp": -1},
        "timestamp-string": {"eventTimestamp": "soon"},
        "permit-to-itself": {"permitId": "AZ-AZ-2026-1-1042"},
        "permit-sql": {"permitId": "' OR 1=1;--"},
        "activity-unknown": {"activityType": "TELEPORT"},
        "producer-missing": {"eventProducer": None},
    }
    for name, change in permit_changes.items():
        yield _epermit(name, _json(EPERMIT_SAMPLE | change), 422, INVALID_INPUT)
    for name, location in {
        "unknown": "XX-NOWHERE",
        "sql": "AZ-ALAT' OR '1'='1",
        "traversal": "../../etc/passwd",
        "huge": "A" * 5000,
        "format": "%s%n",
    }.items():
        yield _epermit(
            f"location-{name}",
            _json(EPERMIT_SAMPLE),
            422,
            INVALID_REQUEST,
            params={"location": location},
        )
    # The all-locations key must name the location: refused, not guessed.
    yield _epermit("location-missing", _json(EPERMIT_SAMPLE), 422, INVALID_REQUEST, params={})


# -------------------------------------------------------------------- API query strings

INJECTIONS = {
    "sql-quote": "' OR '1'='1",
    "sql-stacked": "1; DROP TABLE consignments;--",
    "sql-union": "x' UNION SELECT key_hash FROM api_keys--",
    "traversal": "../../../../etc/passwd",
    "traversal-encoded": "..%2F..%2Fetc%2Fpasswd",
    "format-string": "%s%s%s%n%x",
    "python-format": "{0.__class__.__mro__}",
    "jndi": "${jndi:ldap://127.0.0.1:1/a}",
    "crlf": "x\r\nSet-Cookie: owned=1",
    "rtl": "\u202eKZ-NUR-ZHOLY",
    "nul": "x\u0000y",
    "huge": "A" * 5000,
}
# Free-text filters: an injection matches nothing (200, no items); too long is a 422, and
# so is a NUL anywhere (PostgreSQL text cannot hold one).
SEARCH_TEXT = ("tir_carnet", "mrn", "permit_id", "vehicle_plate", "container")
# Parameters checked against a type, an enum, the reference data or a cursor format.
CHECKED = {
    "/v1/consignments": ("state", "location", "last_event_before", "limit", "cursor"),
    "/v1/alerts": ("since", "location", "kind", "limit", "cursor"),
    "/v1/performance/locations": ("from", "to", "location", "bucket"),
    "/v1/performance/crossings": ("from", "to"),
    "/v1/performance/legs": ("from", "to", "origin", "destination"),
}


def api_cases() -> Iterator[Case]:
    for name, value in INJECTIONS.items():
        for param in SEARCH_TEXT:
            too_long = len(value) > 200 or "\x00" in value
            yield Case(
                f"api-search-{param}-{name}",
                "api",
                "/v1/consignments",
                422 if too_long else 200,
                INVALID_REQUEST if too_long else EMPTY,
                params={param: value},
            )
        too_long = len(value) > 80 or "\x00" in value
        yield Case(
            f"api-crossings-border_id-{name}",
            "api",
            "/v1/performance/crossings",
            422 if too_long else 200,
            INVALID_REQUEST if too_long else EMPTY,
            params={"border_id": value},
        )
        for path, params in CHECKED.items():
            for param in params:
                yield Case(
                    f"api-{path.removeprefix('/v1/').replace('/', '-')}-{param}-{name}",
                    "api",
                    path,
                    422,
                    INVALID_REQUEST,
                    params={param: value},
                )
        # Path parameters: an id nobody has is a 404; one over 64 characters a 422. Ids
        # may contain '/' (the server decodes %2F before routing; the id is a path), so
        # `../../etc/passwd` is just an id nobody has. A line break matches no route (the
        # path convertor stops at it; no valid id has one): the generic not-found.
        for suffix in ("", "/timeline"):
            invalid = len(value) > 64 or "\x00" in value
            status, problem = (422, INVALID_REQUEST) if invalid else (404, NOT_FOUND)
            if "\n" in value or "\r" in value:
                status, problem = 404, "/problems/not-found"
            yield Case(
                f"api-consignment{suffix.replace('/', '-')}-{name}",
                "api",
                f"/v1/consignments/{quote(value, safe='')}{suffix}",
                status,
                problem,
            )
    for name, value in {
        "huge-int": "9" * 400,
        "negative": "-1",
        "zero": "0",
        "float": "1.5",
    }.items():
        yield Case(
            f"api-limit-{name}",
            "api",
            "/v1/consignments",
            422,
            INVALID_REQUEST,
            params={"limit": value},
        )


def _cursor(document: object | bytes) -> str:
    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def probe_cases() -> Iterator[Case]:
    """What an independent probe of the running stack sent: extreme instants and offsets,
    epoch numbers, path-like ids, and tampered page cursors."""
    instants: dict[str, Any] = {
        "year-1900": "1900-01-01T00:00:00Z",
        "year-1950": "1950-01-01T00:00:00Z",
        "just-before-2000": "1999-12-31T23:59:59Z",
        "year-1-offset-overflows-utc": "0001-01-01T00:00:00+01:00",
        "year-9999-offset-overflows-utc": "9999-12-31T23:30:00-01:00",
        "epoch-number": 1_763_600_000,
        "epoch-string": "1763600000",
        "epoch-float": 1_763_600_000.25,
        "epoch-zero": 0,
    }
    for name, value in instants.items():
        yield _events(
            f"probe-occurred_at-{name}", _json(event(occurred_at=value)), 422, INVALID_EVENT
        )
    for name, value in {
        "dot-dot": "X/../H",
        "trailing-dot-dot": "X/..",
        "empty-segment": "X//H",
    }.items():
        body = _json(event(consignment_id=value))
        yield _events(f"probe-consignment_id-{name}", body, 422, INVALID_EVENT)
    for name, value in {
        "year-1-offset": "0001-01-01T00:00:00+01:00",
        "year-9999-offset": "9999-12-31T23:30:00-01:00",
        "epoch-number": 1_763_600_000,
    }.items():
        yield _etir(
            f"probe-occurredAt-{name}",
            _json(ETIR_SAMPLE | {"occurredAt": value}),
            422,
            INVALID_INPUT,
        )
    created = json.loads((SAMPLES / "epermit_permit_created.json").read_text())
    for name, value in {"year-9999": "31/12/9999", "year-1": "01/01/0001"}.items():
        body = _json(created | {"expires_at": value})
        yield _epermit(f"probe-expireAt-{name}", body, 422, INVALID_INPUT)
    when = "2026-03-01T08:00:00+00:00"
    cursors = {
        "nul-in-key": _cursor([when, "SEC\u0000x"]),
        "lone-surrogate": _cursor([when, "SEC\ud800"]),
        "surrogate-bytes": _cursor(b'["2026-03-01T08:00:00+00:00","\xed\xa0\x80"]'),
        "year-1-offset": _cursor(["0001-01-01T00:00:00+01:00", "C"]),
        "year-9999-offset": _cursor(["9999-12-31T23:30:00-01:00", "C"]),
        "naive-time": _cursor(["2026-03-01T08:00:00", "C"]),
        "garbage": "not-a-cursor",
        "alert-shaped": _cursor({"after": 1}),
    }
    for name, value in cursors.items():
        yield Case(
            f"api-consignments-probe-cursor-{name}",
            "api",
            "/v1/consignments",
            422,
            INVALID_REQUEST,
            params={"cursor": value},
        )
    for name, value in {
        "negative": _cursor({"after": -1}),
        "too-big": _cursor({"after": 2**63}),
        "extra-key": _cursor({"after": 1, "x": 2}),
        "consignment-shaped": _cursor([when, "C"]),
    }.items():
        yield Case(
            f"api-alerts-probe-cursor-{name}",
            "api",
            "/v1/alerts",
            422,
            INVALID_REQUEST,
            params={"cursor": value},
        )


def corpus() -> list[Case]:
    cases = [
        *malformed_json(),
        *not_an_event(),
        *wrong_types(),
        *huge_values(),
        *unicode_edges(),
        *unknown_locations(),
        *bad_identifiers(),
        *ncts_cases(),
        *etir_cases(),
        *epermit_cases(),
        *api_cases(),
        *probe_cases(),
    ]
    ids = [case.id for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    return cases
