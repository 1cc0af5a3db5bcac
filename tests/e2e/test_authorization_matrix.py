"""Who may do what, across both services, on the real processes and the real key store.

The API's own matrix (every role x every API endpoint, own/foreign/unknown consignments,
in process) is tests/integration/test_api_authz.py. This module covers what only the
whole stack shows: every ingest endpoint against every kind of key (publisher for its
own location, a foreign one and a mixed batch; carrier, operator, admin; no key, malformed
keys, revoked keys revoked in the database while the services run), publisher keys on
the API, and one event written through ingest and read back through the API by its
carrier, another carrier, an operator and everyone else. No refused request publishes
anything: the events topic does not grow.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import psycopg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.events import TransitEvent
from infra.kafka.topics import topic_specs
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import simulate
from storage.db import create_pool
from storage.writes import WriteRepository
from tests.e2e.conftest import CARRIER_A, CARRIER_B, Stack
from tests.e2e.hostile_corpus import EPERMIT_SAMPLE, ETIR_SAMPLE, NCTS_SAMPLE, SAMPLES
from tests.e2e.test_corridor_e2e import CONFIG as CORRIDOR_CONFIG

OWN = "KZ-NUR-ZHOLY"  # the `nur_zholy` key's only location
FOREIGN = "AZ-ALAT"
UNKNOWN_ID = "MC-0000-NOSUCH"
MALFORMED_KEYS = {
    "empty-bearer": "Bearer",
    "basic-scheme": "Basic dXNlcjpwYXNz",
    "sql-injection": "Bearer ' OR '1'='1' --",
    "huge": "Bearer mck_pub_" + "A" * 8000,
    "not-a-key": "Bearer mck_pub_this-key-was-never-issued",
}


def _own_event() -> TransitEvent:
    """A real event of the corridor replay at our location, for a carrier_b consignment.

    Publishing it here is harmless to the corridor test: the replay later sends the same
    event, which ingest and the tracker treat as the re-send it is.
    """
    result = simulate(CORRIDOR_CONFIG)
    counts: dict[str, int] = {}
    deliveries = list(result.deliveries)
    for delivery in deliveries:
        counts[str(delivery.event.event_id)] = counts.get(str(delivery.event.event_id), 0) + 1
    return next(
        d.event
        for d in deliveries
        if d.fault is None
        and d.event.location == OWN
        and d.event.carrier_id == CARRIER_B
        and counts[str(d.event.event_id)] == 1
    )


def _event(location: str) -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "gate.arrived",
        "occurred_at": "2026-11-20T06:15:00+05:00",
        "location": location,
        "consignment_id": f"MC-AUTHZ-{uuid.uuid4().hex[:8]}",
        "carrier_id": CARRIER_A,
        "source": {"system": "gate"},
    }


@dataclass
class Matrix:
    stack: Stack
    keys: dict[str, str]  # the stack's, plus admin and revoked ones
    ingest: httpx.AsyncClient
    api: httpx.AsyncClient
    consumer: AIOKafkaConsumer
    partitions: list[TopicPartition]
    own_event: TransitEvent

    def auth(self, who: str) -> dict[str, str]:
        if who == "none":
            return {}
        if who in MALFORMED_KEYS:
            return {"Authorization": MALFORMED_KEYS[who]}
        return {"Authorization": f"Bearer {self.keys[who]}"}

    async def end_offsets(self) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return offsets


async def _issue_extra_keys(database_url: str) -> dict[str, str]:
    """An admin key, and a publisher and a carrier key revoked right after issue."""
    async with create_pool(database_url, min_size=1, max_size=1) as pool:
        _, admin = await issue_key(pool, Role.ADMIN, "authz admin")
        revoked_publisher_id, revoked_publisher = await issue_key(
            pool, Role.PUBLISHER, "authz revoked publisher", (OWN,)
        )
        revoked_carrier_id, revoked_carrier = await issue_key(
            pool, Role.CARRIER, "authz revoked carrier", carrier_id=CARRIER_B
        )
        writer = WriteRepository(pool)
        for key_id in (revoked_publisher_id, revoked_carrier_id):
            assert await writer.revoke_api_key(key_id, datetime.now(UTC))
    return {
        "admin": admin,
        "revoked_publisher": revoked_publisher,
        "revoked_carrier": revoked_carrier,
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def matrix(stack: Stack, kafka_bootstrap: str) -> AsyncIterator[Matrix]:
    keys = {**stack.keys, **await _issue_extra_keys(stack.database_url)}
    [spec] = [s for s in topic_specs(stack.topic_prefix) if s.name.endswith("transit-events")]
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        async with (
            httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as ingest,
            httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
        ):
            yield Matrix(
                stack,
                keys,
                ingest,
                api,
                consumer,
                [TopicPartition(spec.name, p) for p in range(spec.partitions)],
                await asyncio.to_thread(_own_event),
            )
    finally:
        await consumer.stop()


# What each ingest endpoint is sent: (path, query, body) for a message about FOREIGN.
FOREIGN_MESSAGES: dict[str, tuple[str, dict[str, str], bytes]] = {
    "events": ("/v1/events", {}, json.dumps(_event(FOREIGN)).encode()),
    "events-mixed-batch": (
        "/v1/events",
        {},
        json.dumps([_event(OWN), _event(FOREIGN), _event(OWN)]).encode(),
    ),
    "ncts": ("/v1/messages/ncts", {}, NCTS_SAMPLE),  # customs office GE000201: GE-POTI
    "etir": (
        "/v1/messages/etir",
        {},
        json.dumps(ETIR_SAMPLE | {"customsOffice": "KZ000124"}).encode(),  # KZ-ALTYNKOL
    ),
    "epermit": (  # PERMIT_CREATED names its company, so it resolves without the directory
        "/v1/messages/epermit",
        {"location": FOREIGN},
        (SAMPLES / "epermit_permit_created.json").read_bytes(),
    ),
}
NOT_AUTHENTICATED = ["none", *MALFORMED_KEYS, "revoked_publisher", "revoked_carrier"]
NOT_PUBLISHERS = ["carrier_a", "carrier_b", "operator", "admin"]


@pytest.mark.parametrize("message", list(FOREIGN_MESSAGES))
@pytest.mark.parametrize("who", [*NOT_AUTHENTICATED, *NOT_PUBLISHERS, "nur_zholy"])
async def test_ingest_refuses_every_unauthorized_write(
    matrix: Matrix, who: str, message: str
) -> None:
    path, params, body = FOREIGN_MESSAGES[message]
    before = await matrix.end_offsets()
    response = await matrix.ingest.post(
        path,
        params=params,
        content=body,
        headers={**matrix.auth(who), "Content-Type": "application/json"},
    )
    expected = 401 if who in NOT_AUTHENTICATED else 403
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == (
        "/problems/unauthorized" if expected == 401 else "/problems/forbidden"
    )
    if expected == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert await matrix.end_offsets() == before, "a refused request published something"


async def test_an_own_location_event_is_published_and_read_back_only_by_its_carrier(
    matrix: Matrix,
) -> None:
    event = matrix.own_event
    response = await matrix.ingest.post(
        "/v1/events",
        content=event.model_dump_json(),
        headers={**matrix.auth("nur_zholy"), "Content-Type": "application/json"},
    )
    assert response.status_code in (200, 202), response.text  # 200: the replay sent it first
    assert response.json()["results"][0]["event_id"] == str(event.event_id)
    await _wait_stored(matrix.stack.database_url, str(event.event_id))

    path = f"/v1/consignments/{event.consignment_id}"
    for who in ("carrier_b", "operator"):
        seen = await matrix.api.get(path, headers=matrix.auth(who))
        assert seen.status_code == 200, (who, seen.text)
        assert seen.json()["carrier_id"] == CARRIER_B
    theirs = await matrix.api.get(path, headers=matrix.auth("carrier_a"))
    unknown = await matrix.api.get(
        f"/v1/consignments/{UNKNOWN_ID}", headers=matrix.auth("carrier_a")
    )
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace(event.consignment_id, "ID") == unknown.text.replace(UNKNOWN_ID, "ID")
    for who in ("publisher", "nur_zholy", "admin"):
        assert (await matrix.api.get(path, headers=matrix.auth(who))).status_code == 403, who
    for who in NOT_AUTHENTICATED:
        assert (await matrix.api.get(path, headers=matrix.auth(who))).status_code == 401, who
    if event.references.vehicle_plates:
        plate = event.references.vehicle_plates[0]
        found = await matrix.api.get(
            "/v1/consignments", params={"vehicle_plate": plate}, headers=matrix.auth("carrier_a")
        )
        assert event.consignment_id not in {i["consignment_id"] for i in found.json()["items"]}


async def _wait_stored(database_url: str, event_id: str) -> None:
    for _ in range(120):
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM transit_events WHERE event_id = %s", (event_id,)
            ).fetchone()
        if row and row[0]:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"event {event_id} never stored")


async def test_a_foreign_location_is_refused_before_anything_is_looked_up(
    matrix: Matrix,
) -> None:
    used = json.dumps(EPERMIT_SAMPLE | {"permitId": "AZ-KZ-2026-1-9999"}).encode()
    response = await matrix.ingest.post(
        "/v1/messages/epermit",
        params={"location": FOREIGN},
        content=used,
        headers={**matrix.auth("nur_zholy"), "Content-Type": "application/json"},
    )
    assert response.status_code == 403, response.text


API_PATHS: list[tuple[str, dict[str, str]]] = [
    ("/v1/consignments", {}),
    (f"/v1/consignments/{UNKNOWN_ID}", {}),
    (f"/v1/consignments/{UNKNOWN_ID}/timeline", {}),
    ("/v1/alerts", {}),
    ("/v1/locations", {}),
    ("/v1/performance/locations", {}),
    ("/v1/performance/crossings", {}),
    ("/v1/performance/legs", {}),
]


@pytest.mark.parametrize(("path", "params"), API_PATHS, ids=[p for p, _ in API_PATHS])
@pytest.mark.parametrize("who", [*NOT_AUTHENTICATED, "publisher", "nur_zholy", "admin"])
async def test_the_api_reads_nothing_to_non_readers(
    matrix: Matrix, who: str, path: str, params: dict[str, str]
) -> None:
    response = await matrix.api.get(path, params=params, headers=matrix.auth(who))
    expected = 401 if who in NOT_AUTHENTICATED else 403
    assert response.status_code == expected, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert "items" not in response.json()


async def test_revocation_takes_effect_at_once_in_both_services(matrix: Matrix) -> None:
    """A key revoked while the services run stops working on its next request."""
    async with create_pool(matrix.stack.database_url, min_size=1, max_size=1) as pool:
        publisher_id, publisher = await issue_key(pool, Role.PUBLISHER, "short-lived", (OWN,))
        carrier_id, carrier = await issue_key(
            pool, Role.CARRIER, "short-lived", carrier_id=CARRIER_A
        )
        bad = json.dumps({"not": "an event"})  # authenticates, then fails validation
        headers = {"Authorization": f"Bearer {publisher}", "Content-Type": "application/json"}
        assert (
            await matrix.ingest.post("/v1/events", content=bad, headers=headers)
        ).status_code == 422
        carrier_headers = {"Authorization": f"Bearer {carrier}"}
        assert (await matrix.api.get("/v1/locations", headers=carrier_headers)).status_code == 200
        writer = WriteRepository(pool)
        assert await writer.revoke_api_key(publisher_id, datetime.now(UTC))
        assert await writer.revoke_api_key(carrier_id, datetime.now(UTC))
    assert (await matrix.ingest.post("/v1/events", content=bad, headers=headers)).status_code == 401
    assert (await matrix.api.get("/v1/locations", headers=carrier_headers)).status_code == 401
