"""The ingest HTTP API with in-memory ports: canonical events, auth, scope, errors, docs."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.common.keys import Role
from services.common.reference_data import load_corridor_reference
from services.ingest import create_app
from services.ingest.memory import (
    FailingPublisher,
    InMemoryDirectory,
    InMemoryKeyStore,
    RecordingPublisher,
)
from services.ingest.publisher import EventPublisher
from services.ingest.settings import IngestSettings

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


def settings(**overrides: Any) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url="postgresql://u:p@127.0.0.1:1/db",
        **overrides,
    )


@dataclass
class Harness:
    client: httpx.AsyncClient
    publisher: RecordingPublisher
    keys: InMemoryKeyStore
    directory: InMemoryDirectory
    key: str  # publisher for KZ-NUR-ZHOLY and CN-KHORGOS

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.key}"}

    async def post(self, path: str, body: Any, **kwargs: Any) -> httpx.Response:
        content = body if isinstance(body, bytes | str) else json.dumps(body)
        headers = {**self.auth(), **kwargs.pop("headers", {})}
        return await self.client.post(path, content=content, headers=headers, **kwargs)


async def make_harness(
    publisher: EventPublisher | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    recording = RecordingPublisher()
    keys, directory = InMemoryKeyStore(), InMemoryDirectory()
    key = keys.add("Nur Zholy BCP", locations=["KZ-NUR-ZHOLY", "CN-KHORGOS"])
    app = create_app(
        settings(**overrides),
        publisher=publisher or recording,
        key_store=keys,
        reference=load_corridor_reference(),
        directory=directory,
        now=lambda: NOW,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield Harness(client, recording, keys, directory, key)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async for harness in make_harness():
        yield harness


def event(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "event_type": "gate.arrived",
        "occurred_at": "2026-11-20T06:15:00+05:00",
        "location": "KZ-NUR-ZHOLY",
        "consignment_id": "MC-2026-000123",
        "carrier_id": "carrier-kz-01",
        "references": {
            "tir_carnet": "XH12345678",
            "mrn": "24KZ000123T0001236",
            "container_numbers": ["CSQU3054383"],
        },
        "source": {"system": "gate", "message_type": "GATE_IN", "message_id": "NZ-1"},
        "attributes": {"direction": "inbound", "mode": "road"},
    }
    return base | overrides


def assert_problem(
    response: httpx.Response, status: int, field: str | None = None
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    return body


# --- accepted, batches, duplicates -------------------------------------------------------


async def test_a_single_event_is_published_and_reported(h: Harness) -> None:
    item = event()
    response = await h.post("/v1/events", item)
    assert response.status_code == 202
    body = response.json()
    assert body == {
        "ignored": None,
        "accepted": 1,
        "duplicates": 0,
        "rejected": 0,
        "results": [
            {
                "index": 0,
                "status": "accepted",
                "event_id": item["event_id"],
                "errors": [],
                "warnings": [],
                "conflicts_with_earlier": False,
            }
        ],
    }
    assert [str(e.event_id) for e in h.publisher.events] == [item["event_id"]]


async def test_a_batch_with_one_bad_item_accepts_the_rest(h: Harness) -> None:
    good, bad, also_good = event(), event(location="KZ-NOWHERE"), event(event_type="gate.departed")
    response = await h.post("/v1/events", [good, bad, also_good])
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert body["results"][1]["errors"][0]["field"] == "location"
    assert len(h.publisher.batches) == 1  # one durable batch per request
    assert {str(e.event_id) for e in h.publisher.events} == {
        good["event_id"],
        also_good["event_id"],
    }


async def test_a_resent_event_is_a_duplicate_and_not_published_again(h: Harness) -> None:
    item = event()
    assert (await h.post("/v1/events", item)).status_code == 202
    again = await h.post("/v1/events", item)
    assert again.status_code == 200
    assert again.json()["results"][0]["status"] == "duplicate"
    assert len(h.publisher.events) == 1


async def test_the_same_event_twice_in_one_batch_is_published_once(h: Harness) -> None:
    item = event()
    body = (await h.post("/v1/events", [item, item])).json()
    assert [r["status"] for r in body["results"]] == ["accepted", "duplicate"]
    assert len(h.publisher.events) == 1


async def test_same_id_different_content_is_published_and_flagged(h: Harness) -> None:
    item = event()
    await h.post("/v1/events", item)
    changed = item | {"occurred_at": "2026-11-20T07:15:00+05:00"}
    body = (await h.post("/v1/events", changed)).json()
    assert body["results"][0]["status"] == "accepted"
    assert body["results"][0]["conflicts_with_earlier"] is True
    assert len(h.publisher.events) == 2


# --- authentication and scope --------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [{}, {"Authorization": "Bearer mck_pub_wrong"}, {"Authorization": "Basic dXNlcjpwYXNz"}],
)
async def test_missing_or_unknown_key_is_401(h: Harness, header: dict[str, str]) -> None:
    response = await h.client.post("/v1/events", content=json.dumps(event()), headers=header)
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert h.publisher.events == []


async def test_a_key_of_another_role_is_403(h: Harness) -> None:
    operator = h.keys.add("ops", role=Role.OPERATOR)
    response = await h.post("/v1/events", event(), headers=h.auth(operator))
    assert_problem(response, 403)


async def test_a_batch_with_a_foreign_location_is_403_and_publishes_nothing(h: Harness) -> None:
    response = await h.post("/v1/events", [event(), event(location="TR-KAPIKULE")])
    body = assert_problem(response, 403)
    assert "TR-KAPIKULE" in body["detail"]
    assert h.publisher.events == []


# --- validation: each a problem document, nothing published -----------------------------


@pytest.mark.parametrize(
    ("item", "field", "rule_part"),
    [
        (event(location="KZ-NOWHERE"), "location", "unknown corridor location"),
        (event(event_type="gate.teleported"), "event_type", "Input should be"),
        (event(occurred_at="2026-11-20T06:15:00"), "occurred_at", "with an offset"),
        (event(occurred_at=1_763_600_000), "occurred_at", "RFC 3339"),
        (event(occurred_at="1763600000"), "occurred_at", "RFC 3339"),
        (event(occurred_at=1_763_600_000.5), "occurred_at", "RFC 3339"),
        (event(occurred_at="1900-01-01T00:00:00Z"), "occurred_at", "from 2000-01-01"),
        (event(occurred_at="1999-12-31T23:59:59Z"), "occurred_at", "from 2000-01-01"),
        (event(occurred_at="0001-01-01T00:00:00+01:00"), "occurred_at", "from 2000-01-01"),
        (event(occurred_at="9999-12-31T23:30:00-01:00"), "occurred_at", "from 2000-01-01"),
        (event(occurred_at="2026-11-26T12:00:00+00:00"), "occurred_at", "in the future"),
        (event(references={"mrn": "24KZ000123T0001235"}), "references.mrn", "check digit"),
        (
            event(references={"container_numbers": ["CSQU3054384"]}),
            "references.container_numbers[0]",
            "check digit",
        ),
        (event(references={"tir_carnet": "AB12"}), "references.tir_carnet", "carnet"),
        (event(consignment_id=42), "consignment_id", "string"),
        (event(consignment_id="X/../H"), "consignment_id", "'..' segment"),
        (event(consignment_id="X/.."), "consignment_id", "'..' segment"),
        (event(consignment_id="X//H"), "consignment_id", "empty"),
        (event(extra_field=1), "extra_field", "Extra inputs"),
        ({k: v for k, v in event().items() if k != "carrier_id"}, "carrier_id", "required"),
    ],
    ids=[
        "unknown-location",
        "unknown-event-type",
        "naive-timestamp",
        "epoch-number",
        "epoch-string",
        "epoch-float",
        "year-1900",
        "just-before-2000",
        "year-1-overflows-utc",
        "year-9999-overflows-utc",
        "far-future",
        "mrn-check-digit",
        "container-check-digit",
        "carnet-shape",
        "wrong-type",
        "dot-dot-segment",
        "trailing-dot-dot",
        "empty-segment",
        "extra-field",
        "missing-field",
    ],
)
async def test_invalid_events_are_422_naming_field_and_rule(
    h: Harness, item: dict[str, Any], field: str, rule_part: str
) -> None:
    body = assert_problem(await h.post("/v1/events", item), 422, field)
    rules = " ".join(e["rule"] for e in body["errors"] if e["field"] == field)
    assert rule_part in rules
    assert h.publisher.events == []


async def test_a_batch_of_only_bad_items_prefixes_fields_with_the_index(h: Harness) -> None:
    body = assert_problem(
        await h.post("/v1/events", [event(location="X-Y"), event(event_type="x")]), 422
    )
    assert {e["field"] for e in body["errors"]} >= {"[0].location", "[1].event_type"}


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b"[1, 2", b"nul"])
async def test_malformed_json_is_400(h: Harness, raw: bytes) -> None:
    assert_problem(await h.post("/v1/events", raw), 400, "body")
    assert h.publisher.events == []


@pytest.mark.parametrize("raw", [b"", b"[]", b"42", b'"text"'])
async def test_empty_or_non_object_bodies_are_422(h: Harness, raw: bytes) -> None:
    assert_problem(await h.post("/v1/events", raw), 422, "body")


async def test_too_many_items_is_422() -> None:
    async for h in make_harness(ingest_max_batch=2):
        assert_problem(await h.post("/v1/events", [event(), event(), event()]), 422, "body")
        assert h.publisher.events == []


async def test_an_oversize_body_is_413() -> None:
    async for h in make_harness(ingest_max_body_bytes=2048):
        big = [event() for _ in range(10)]
        assert_problem(await h.post("/v1/events", big), 413)
        assert h.publisher.events == []


# --- durability -------------------------------------------------------------------------


async def test_broker_down_is_503_with_retry_after_and_nothing_accepted() -> None:
    failing = FailingPublisher()
    async for h in make_harness(publisher=failing, ingest_retry_after_seconds=7):
        response = await h.post("/v1/events", event())
        assert_problem(response, 503)
        assert response.headers["retry-after"] == "7"
        assert failing.attempts == 1
        ready = await h.client.get("/readyz")
        assert_problem(ready, 503)


async def test_after_an_outage_the_resent_event_is_accepted_not_a_duplicate(h: Harness) -> None:
    item = event()
    h.publisher.fail_next = 1
    assert (await h.post("/v1/events", item)).status_code == 503
    assert (await h.post("/v1/events", item)).status_code == 202
    assert len(h.publisher.events) == 1


# --- operations and documentation ---------------------------------------------------------


async def test_health_ready_and_metrics(h: Harness) -> None:
    assert (await h.client.get("/healthz")).json() == {"status": "ok"}
    assert (await h.client.get("/readyz")).status_code == 200
    await h.post("/v1/events", [event(), event(location="KZ-NOWHERE")])
    metrics = (await h.client.get("/metrics")).text
    assert 'ingest_events_accepted_total{endpoint="events"} 1.0' in metrics
    assert 'ingest_events_rejected_total{endpoint="events",reason="location"} 1.0' in metrics
    assert "ingest_publish_seconds_count" in metrics


async def test_openapi_lists_every_endpoint_with_request_and_response_examples(h: Harness) -> None:
    document = (await h.client.get("/openapi.json")).json()
    paths = document["paths"]
    expected = {
        "/v1/events",
        "/v1/messages/ncts",
        "/v1/messages/epermit",
        "/v1/messages/etir",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    assert expected <= set(paths)
    for path in expected:
        for method, operation in paths[path].items():
            if method == "post":
                content = operation["requestBody"]["content"]
                assert all(media.get("examples") for media in content.values()), path
                for status in ("202", "200", "400", "401", "403", "413", "422", "503"):
                    assert status in operation["responses"], (path, status)
            for status, response in operation["responses"].items():
                media = response.get("content", {})
                assert any("example" in m or "examples" in m for m in media.values()), (
                    path,
                    status,
                )
    schemas = document["components"]["schemas"]
    assert {"TransitEvent", "EtirMessage", "EpermitPermitUsed", "Problem"} <= set(schemas)
    refs = json.dumps(document)
    for name in {r.split('"')[0] for r in refs.split('"#/components/schemas/')[1:]}:
        assert name in schemas


async def test_events_too_far_in_the_future_use_the_injected_clock() -> None:
    async for h in make_harness(ingest_max_future_skew_seconds=0):
        soon = (NOW + timedelta(seconds=1)).isoformat()
        assert_problem(await h.post("/v1/events", event(occurred_at=soon)), 422, "occurred_at")


# --- carrier ownership: a publisher cannot hand a consignment to another carrier -----------


async def test_an_event_naming_another_carrier_for_a_known_consignment_is_409(
    h: Harness,
) -> None:
    h.directory.add_consignment("MC-2026-000123", "carrier-kz-01")
    hijack = event(event_type="seals.checked", carrier_id="carrier-az-99")
    body = assert_problem(await h.post("/v1/events", hijack), 409, "carrier_id")
    assert body["type"] == "/problems/carrier-conflict"
    assert "carrier-kz-01" not in response_text(body)  # the owner is not the sender's to learn
    assert h.publisher.events == []


async def test_a_batch_with_one_hijack_publishes_nothing(h: Harness) -> None:
    h.directory.add_consignment("MC-2026-000123", "carrier-kz-01")
    fine = event(carrier_id="carrier-kz-01")
    hijack = event(event_type="seals.checked", carrier_id="carrier-az-99")
    assert_problem(await h.post("/v1/events", [fine, hijack]), 409, "[1].carrier_id")
    assert h.publisher.events == []


async def test_two_carriers_for_a_new_consignment_in_one_request_is_409(h: Harness) -> None:
    declared = event(event_type="declaration.accepted", carrier_id="carrier-kz-01")
    other = event(event_type="gate.arrived", carrier_id="carrier-az-99")
    assert_problem(await h.post("/v1/events", [other, declared]), 409, "[0].carrier_id")
    assert h.publisher.events == []


async def test_the_owners_own_events_are_accepted(h: Harness) -> None:
    h.directory.add_consignment("MC-2026-000123", "carrier-kz-01")
    response = await h.post("/v1/events", event(carrier_id="carrier-kz-01"))
    assert response.status_code == 202, response.text


def response_text(body: dict[str, Any]) -> str:
    return json.dumps(body)


def test_openapi_declares_the_bearer_key_and_the_instant_window() -> None:
    app = create_app(
        settings(),
        publisher=RecordingPublisher(),
        key_store=InMemoryKeyStore(),
        reference=load_corridor_reference(),
        directory=InMemoryDirectory(),
        now=lambda: NOW,
    )
    document = app.openapi()
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for path in ("/v1/events", "/v1/messages/ncts", "/v1/messages/etir", "/v1/messages/epermit"):
        assert document["paths"][path]["post"]["security"] == [{"HTTPBearer": []}], path
        assert "409" in document["paths"][path]["post"]["responses"]
    occurred_at = document["components"]["schemas"]["TransitEvent"]["properties"]["occurred_at"]
    assert occurred_at["formatMinimum"].startswith("2000-01-01T00:00:00")
    assert occurred_at["formatExclusiveMaximum"].startswith("2068-01-01T00:00:00")
