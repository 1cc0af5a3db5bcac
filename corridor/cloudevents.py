"""CloudEvents 1.0 Kafka protocol binding, binary content mode, without a Kafka client.

The record value is the canonical event JSON; the `ce_` headers repeat the attributes a
broker-side consumer routes on, so they must agree with the body (checked on the way in).

One extension attribute, `ce_datasha256`: the SHA-256 of the value, which is also the
event's fingerprint. A reader whose body has that digest takes the body as the event's
canonical JSON instead of serialising the event again (a fifth of the tracker's decode
cost). A body without it, or changed since (re-spelled by some tool on the way), is
still accepted: its event is serialised and digested afresh, so its fingerprint is that
of its content, not of its spelling.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import ValidationError

from corridor.errors import InvalidEvent
from corridor.events import SCHEMA_VERSION, EventType, TransitEvent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
TYPE_PREFIX = "org.middlecorridor.transit."
DATA_SCHEMA = f"urn:middlecorridor:schema:transit-event:{SCHEMA_VERSION}"
DATA_DIGEST = "ce_datasha256"  # extension attribute: SHA-256 (hex) of the canonical body

Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    key: bytes
    value: bytes
    headers: Headers


_CE_TYPES = {  # computed once: every record in and out names its type
    event_type: f"{TYPE_PREFIX}{event_type.value}.v{SCHEMA_VERSION.split('.')[0]}"
    for event_type in EventType
}


def ce_type(event: TransitEvent) -> str:
    """`org.middlecorridor.transit.gate.arrived.v1`: the major schema version is in the type."""
    return _CE_TYPES[event.event_type]


def ce_source(event: TransitEvent) -> str:
    return f"/corridor/{event.source.system.value}/{event.location}"


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _attributes(event: TransitEvent) -> dict[str, str]:
    return {
        "ce_specversion": SPEC_VERSION,
        "ce_id": str(event.event_id),
        "ce_type": ce_type(event),
        "ce_source": ce_source(event),
        "ce_time": rfc3339(event.occurred_at),
        "ce_subject": event.consignment_id,
        "ce_dataschema": DATA_SCHEMA,
        "content-type": CONTENT_TYPE,
    }


def to_kafka_record(event: TransitEvent) -> KafkaRecord:
    """Key by consignment, so one consignment's events stay in one partition, in order."""
    headers = [(name, value.encode()) for name, value in _attributes(event).items()]
    headers.append((DATA_DIGEST, event.fingerprint().encode()))
    return KafkaRecord(
        key=event.consignment_id.encode(),
        value=event.canonical_json().encode(),
        headers=headers,
    )


def from_kafka_record(
    key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]
) -> TransitEvent:
    """Parse the body and insist the key and every `ce_` header agree with it."""
    received = _decode_headers(headers)
    if received.get("ce_specversion") != SPEC_VERSION:
        raise InvalidEvent("ce_specversion", f"must be {SPEC_VERSION}")
    if received.get("content-type", "").split(";")[0].strip() != CONTENT_TYPE:
        raise InvalidEvent("content-type", f"must be {CONTENT_TYPE}")
    event = _parse_body(value)
    for name, expected in _checked_attributes(event):
        if received.get(name) != expected:
            raise InvalidEvent(
                name, f"header {received.get(name)!r} disagrees with body {expected!r}"
            )
    if not _same_instant(received.get("ce_time"), event.occurred_at):
        raise InvalidEvent(
            "ce_time",
            f"header {received.get('ce_time')!r} disagrees with body"
            f" {rfc3339(event.occurred_at)!r}",
        )
    if key is not None and key != event.consignment_id.encode():
        raise InvalidEvent("key", "record key must be the consignment id")
    declared = received.get(DATA_DIGEST)
    if declared is not None and hashlib.sha256(value).hexdigest() == declared:
        event.adopt_canonical_json(value.decode(), declared)
    return event


def _checked_attributes(event: TransitEvent) -> tuple[tuple[str, str], ...]:
    # What `_attributes` writes, bar the time (an instant with many spellings) and the
    # content type (checked first). The id's text comes from the sort key, which every
    # reader builds anyway: one UUID formatting per event, not two.
    return (
        ("ce_id", event.sort_key[2]),
        ("ce_type", ce_type(event)),
        ("ce_source", ce_source(event)),
        ("ce_subject", event.consignment_id),
        ("ce_dataschema", DATA_SCHEMA),
    )


def _same_instant(received: str | None, moment: datetime) -> bool:
    # RFC 3339 allows several spellings of one instant: compare instants, not text.
    if received is None:
        return False
    try:
        return datetime.fromisoformat(received) == moment
    except ValueError:
        return False


def _decode_headers(headers: Sequence[tuple[str, bytes]]) -> dict[str, str]:
    decoded: dict[str, str] = {}
    for name, raw in headers:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            raise InvalidEvent(name, "header value is not UTF-8") from None
        if decoded.setdefault(name, text) != text:
            raise InvalidEvent(name, "header repeated with different values")
    return decoded


def _parse_body(value: bytes) -> TransitEvent:
    try:
        return TransitEvent.model_validate_json(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(step) for step in first["loc"]) or "value"
        raise InvalidEvent(where, first["msg"]) from exc
