"""A publisher cannot change who sees a consignment, on the real processes.

Carrier A's consignment is declared and stored; a publisher key valid for every corridor
location then names carrier B on a later event. Ingest refuses it (409 naming
`carrier_id`, nothing published); carrier A still sees its consignment and carrier B gets
exactly the answer it gets for an id that does not exist. When the contradiction reaches
the tracker without ingest seeing it (both events in flight together, written straight to
the topic here), the first claim keeps the consignment and an `identity_conflict` alert
is raised for its owner.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest_asyncio
from aiokafka import AIOKafkaProducer

from corridor.cloudevents import to_kafka_record
from corridor.events import TransitEvent
from infra.kafka.topics import topic_specs
from tests.e2e.conftest import CARRIER_A, CARRIER_B, Stack

UNKNOWN_ID = "MC-0000-NOSUCH"


def _event(consignment_id: str, event_type: str, hours: float, carrier_id: str) -> dict[str, Any]:
    at = datetime(2026, 11, 20, 6, 0, tzinfo=UTC) + timedelta(hours=hours)
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": at.isoformat(),
        "location": "KZ-NUR-ZHOLY",
        "consignment_id": consignment_id,
        "carrier_id": carrier_id,
        "references": {"vehicle_plates": [f"P{consignment_id[-6:]}"]},
        "source": {"system": "gate"},
    }


class Clients:
    def __init__(self, stack: Stack, ingest: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
        self.stack, self.ingest, self.api = stack, ingest, api

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.stack.keys[who]}"}

    async def publish(self, who: str, body: object) -> httpx.Response:
        return await self.ingest.post("/v1/events", json=body, headers=self.auth(who))

    async def status(self, who: str, consignment_id: str) -> httpx.Response:
        return await self.api.get(f"/v1/consignments/{consignment_id}", headers=self.auth(who))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    async with (
        httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as ingest,
        httpx.AsyncClient(base_url=stack.api_url, timeout=30) as api,
    ):
        yield Clients(stack, ingest, api)


async def _stored_carrier(database_url: str, consignment_id: str, events: int) -> str:
    for _ in range(120):
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT carrier_id, event_count FROM consignments WHERE consignment_id = %s",
                (consignment_id,),
            ).fetchone()
        if row and row[1] >= events:
            return str(row[0])
        await asyncio.sleep(0.5)
    raise AssertionError(f"{consignment_id} was never stored with {events} events")


async def test_a_publisher_with_every_location_cannot_hand_a_consignment_over(
    clients: Clients,
) -> None:
    consignment = f"MC-OWN-{uuid.uuid4().hex[:8].upper()}"
    declared = _event(consignment, "declaration.accepted", 0, CARRIER_A)
    arrived = _event(consignment, "gate.arrived", 1, CARRIER_A)
    response = await clients.publish("publisher", [declared, arrived])
    assert response.status_code == 202, response.text
    assert await _stored_carrier(clients.stack.database_url, consignment, 2) == CARRIER_A

    hijack = _event(consignment, "seals.checked", 48, CARRIER_B)
    refused = await clients.publish("publisher", hijack)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in refused.json()["errors"]] == ["carrier_id"]
    assert CARRIER_A not in refused.text

    await asyncio.sleep(1.0)  # a tracker batch window, should anything have slipped through
    assert (await clients.status("carrier_a", consignment)).status_code == 200
    theirs = await clients.status("carrier_b", consignment)
    unknown = await clients.status("carrier_b", UNKNOWN_ID)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.text.replace(consignment, "ID") == unknown.text.replace(UNKNOWN_ID, "ID")
    plate = declared["references"]["vehicle_plates"][0]
    found = await clients.api.get(
        "/v1/consignments", params={"vehicle_plate": plate}, headers=clients.auth("carrier_b")
    )
    assert found.json()["items"] == []


async def test_a_conflict_seen_only_by_the_tracker_keeps_the_first_owner_and_alerts(
    clients: Clients, kafka_bootstrap: str
) -> None:
    consignment = f"MC-OWN-{uuid.uuid4().hex[:8].upper()}"
    first = TransitEvent.model_validate(_event(consignment, "gate.arrived", 0, CARRIER_A))
    later = TransitEvent.model_validate(_event(consignment, "seals.checked", 5, CARRIER_B))
    [spec] = [
        s for s in topic_specs(clients.stack.topic_prefix) if s.name.endswith("transit-events")
    ]
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for event in (later, first):  # out of order, as two publishers might race
            record = to_kafka_record(event)
            await producer.send_and_wait(
                spec.name, record.value, key=record.key, headers=list(record.headers)
            )
    finally:
        await producer.stop()

    assert await _stored_carrier(clients.stack.database_url, consignment, 2) == CARRIER_A
    assert (await clients.status("carrier_b", consignment)).status_code == 404
    alerts = await clients.api.get(
        "/v1/alerts",
        params={"kind": "identity_conflict", "since": "2026-11-01T00:00:00Z"},
        headers=clients.auth("carrier_a"),
    )
    assert alerts.status_code == 200, alerts.text
    assert consignment in {alert["consignment_id"] for alert in alerts.json()["items"]}
