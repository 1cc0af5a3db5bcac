"""One consignment's NCTS messages, posted to ingest in different orders, give one stored
timeline: ingest on the real broker, a real tracker worker, the directory on the database
the tracker writes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from corridor.identifiers import check_mrn
from infra.kafka.topics import ensure_topics, topic_specs
from services.common.reference_data import load_corridor_reference
from services.ingest import create_app
from services.ingest.in_memory import InMemoryKeyStore
from services.ingest.pg_directory import PostgresConsignmentDirectory
from services.ingest.publisher import KafkaEventPublisher
from services.ingest.settings import IngestSettings
from storage.db import create_pool
from storage.queries.directory import DirectoryQueries
from tests.integration.tracker_harness import TrackerWorkers

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
LRN, MRN = "GETRD-2026-000042", "24GE000201T0000420"
CC015C, CC028C, CC029C = "cc015c_declaration", "cc028c_mrn_allocated", "cc029c_release_for_transit"
CD118C, CC007C = "cd118c_crossing_frontier", "cc007c_arrival_notification"
# The worst orders put MRN-only messages (CD118C, CC007C) first: they open a placeholder
# under the MRN, which the tracker merges into the LRN's consignment once CC028C or
# CC029C links the two (docs/event-mapping.md, "Order independence").
ORDERS = (
    (CC015C, CC028C, CC029C, CD118C, CC007C),
    (CC029C, CC015C, CC028C, CC007C, CD118C),
    (CC028C, CD118C, CC015C, CC007C, CC029C),
    (CD118C, CC007C, CC015C, CC028C, CC029C),
    (CC007C, CC029C, CD118C, CC015C, CC028C),
)
STORED_WITHIN_SECONDS = 60.0


@pytest.fixture
def tracker(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[TrackerWorkers]:
    workers = TrackerWorkers(kafka_bootstrap, topic_prefix, fresh_database_url, tmp_path)
    workers.topic_prefix = f"{topic_prefix}{workers.app_id}."
    yield workers
    workers.stop_all()


@pytest.fixture
async def ingest(kafka_bootstrap: str, tracker: TrackerWorkers) -> AsyncIterator[httpx.AsyncClient]:
    await ensure_topics(kafka_bootstrap, topic_specs(tracker.topic_prefix))
    tracker.start()
    reference = load_corridor_reference()
    keys = InMemoryKeyStore()
    key = keys.add("Customs", locations=[location.code for location in reference.locations])
    publisher = KafkaEventPublisher(
        [kafka_bootstrap], f"{tracker.topic_prefix}transit-events", 10.0
    )
    await publisher.start()
    try:
        async with create_pool(tracker.database_url, name="ingest-order-it") as pool:
            app = create_app(
                IngestSettings(
                    kafka_bootstrap_servers=kafka_bootstrap, database_url="postgresql://u@h/db"
                ),
                publisher=publisher,
                key_store=keys,
                reference=reference,
                directory=PostgresConsignmentDirectory(DirectoryQueries(pool)),
                now=lambda: datetime.now(UTC),
            )
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://ingest",
                headers={"Authorization": f"Bearer {key}"},
            ) as client:
                yield client
    finally:
        await publisher.stop()


def _variant(number: int) -> tuple[str, str]:
    """An LRN and a valid MRN of their own for each order, so the runs share nothing."""
    mrn = f"24GE000201T00{number}0420"
    return f"{LRN}-{number}", mrn[:-1] + str(check_mrn(mrn).expected_check_digit)


def _message(name: str, lrn: str, mrn: str) -> bytes:
    body = (SAMPLES / f"ncts_{name}.xml").read_bytes()
    return body.replace(LRN.encode(), lrn.encode()).replace(MRN.encode(), mrn.encode())


def _stored(database_url: str, consignment_id: str, mrn: str) -> dict[str, Any]:
    with psycopg.connect(database_url) as conn:
        events = conn.execute(
            "SELECT event_type, occurred_at, location, payload->'source'->>'message_type'"
            " FROM transit_events WHERE consignment_id = %s ORDER BY occurred_at, event_type",
            (consignment_id,),
        ).fetchall()
        consignment = conn.execute(
            "SELECT carrier_id, state, current_location, event_count, mrn"
            " FROM consignments WHERE consignment_id = %s",
            (consignment_id,),
        ).fetchone()
        opened = conn.execute(
            "SELECT count(*) FROM consignments WHERE consignment_id IN (%s, %s) OR mrn = %s",
            (consignment_id, mrn, mrn),
        ).fetchone()
    return {"events": events, "consignment": consignment, "opened": opened}


async def _wait_for_events(database_url: str, ids: tuple[str, ...], count: int) -> None:
    """Until the tracker stored `count` events in the timelines of the consignments `ids`
    (the LRN's and the MRN placeholder's; the directory then knows what they said), as a
    customs system's messages arrive one after the other."""
    deadline = time.monotonic() + STORED_WITHIN_SECONDS
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(event_count), 0) FROM consignments"
                " WHERE consignment_id = ANY(%s)",
                (list(ids),),
            ).fetchone()
        if row is not None and row[0] >= count:
            return
        await asyncio.sleep(0.3)
    raise AssertionError(f"{ids}: {count} events not stored in time")


@pytest.mark.timeout(300)
async def test_one_consignments_messages_in_different_orders_give_one_stored_timeline(
    ingest: httpx.AsyncClient, tracker: TrackerWorkers
) -> None:
    timelines = []
    for number, order in enumerate(ORDERS, start=1):
        lrn, mrn = _variant(number)
        for posted, name in enumerate(order, start=1):
            response = await ingest.post("/v1/messages/ncts", content=_message(name, lrn, mrn))
            assert response.status_code == 202, response.text
            [result] = response.json()["results"]
            assert result["status"] == "accepted", result
            await _wait_for_events(tracker.database_url, (lrn, mrn), posted)
        await _wait_for_events(tracker.database_url, (lrn,), len(order))
        stored = _stored(tracker.database_url, lrn, mrn)
        assert stored["opened"] == (1,), f"{order}: one consignment, the LRN's"
        carrier, state, location, count, stored_mrn = stored["consignment"]
        assert (carrier, count, stored_mrn) == ("GE0123456789", len(order), mrn), tracker.logs()
        timelines.append((stored["events"], state, location))

    assert all(timeline == timelines[0] for timeline in timelines[1:])
    events, state, location = timelines[0]
    assert [message_type for *_, message_type in events] == [
        "CC015C",
        "CC028C",
        "CC029C",
        "CD118C",
        "CC007C",
    ]
    assert (state, location) == ("in_transit", None)
