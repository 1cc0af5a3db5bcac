"""Alerts a late event makes untrue are withdrawn in the batch that rewrites the timeline."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import psycopg
import pytest

from corridor.alerts import OverduePolicy, alerts_for_timeline, overdue_alerts
from corridor.events import EventType, References, Source, SourceSystem, TransitEvent
from corridor.model import Timeline
from corridor.reference import load_reference
from corridor.timeline import build_timeline
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest.in_memory import InMemoryKeyStore
from services.tracker.store import new_alert
from storage.db import Pool
from storage.queries.api import ApiQueries
from storage.rows import AlertRow
from storage.writes import WriteRepository

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, tzinfo=UTC)
_IDS = uuid.UUID("a1e27000-0000-4000-8000-000000000000")
REFERENCE = load_reference()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def gate(event_type: EventType, location: str, hours: float, cid: str = "W-1") -> TransitEvent:
    return TransitEvent(
        event_id=uuid.uuid5(_IDS, f"{cid}|{event_type}|{location}|{hours}"),
        event_type=event_type,
        occurred_at=at(hours),
        location=location,
        consignment_id=cid,
        carrier_id="CARRIER-A",
        references=References(),
        source=Source(system=SourceSystem.GATE),
    )


ARRIVAL = gate(EventType.GATE_ARRIVED, "CN-KHORGOS", 0)
DEPARTURE = gate(EventType.GATE_DEPARTED, "CN-KHORGOS", 10)


def timeline(*events: TransitEvent) -> Timeline:
    return build_timeline(list(events), REFERENCE)


async def write(
    writer: WriteRepository, events: list[TransitEvent], clock: float
) -> tuple[Timeline, set[str]]:
    """What the tracker writes for a batch: its events, the rebuilt timeline, its alerts."""
    rebuilt = timeline(*events)
    alerts = [new_alert(a, at(clock)) for a in alerts_for_timeline(rebuilt)]
    result = await writer.write_batch(events, [rebuilt], alerts, withdrawn_at=at(clock))
    assert result.timelines_applied == 1
    return rebuilt, {a.key for a in alerts}


def alerts_of(dsn: str, kind: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        query = "SELECT dedup_key, withdrawn_at FROM alerts WHERE kind = %s ORDER BY id"
        return conn.execute(query, (kind,)).fetchall()


async def test_a_late_arrival_withdraws_departure_without_arrival(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    _, raised = await write(writer, [DEPARTURE], clock=11)
    [(key, withdrawn_at)] = alerts_of(fresh_database_url, "departure_without_arrival")
    assert key in raised
    assert withdrawn_at is None

    await write(writer, [ARRIVAL, DEPARTURE], clock=12)

    assert alerts_of(fresh_database_url, "departure_without_arrival") == [(key, at(12))]


async def test_replaying_the_late_batch_changes_nothing(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    await write(writer, [DEPARTURE], clock=11)
    await write(writer, [ARRIVAL, DEPARTURE], clock=12)
    before = alerts_of(fresh_database_url, "departure_without_arrival")

    stale = timeline(DEPARTURE)
    replayed = await writer.write_batch(
        [ARRIVAL, DEPARTURE],
        [stale, timeline(ARRIVAL, DEPARTURE)],
        [new_alert(a, at(13)) for a in alerts_for_timeline(stale)],
        withdrawn_at=at(13),
    )

    # Neither re-opened by the stale timeline's alert nor stamped again.
    assert replayed.alerts_raised == 0
    assert alerts_of(fresh_database_url, "departure_without_arrival") == before


async def test_whole_event_set_first_never_raises_it(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    await write(writer, [ARRIVAL, DEPARTURE], clock=12)
    # The departure alone again (a partition replayed): the stored timeline is newer.
    stale = timeline(DEPARTURE)
    await writer.write_batch(
        [DEPARTURE], [stale], [new_alert(a, at(13)) for a in alerts_for_timeline(stale)]
    )
    assert alerts_of(fresh_database_url, "departure_without_arrival") == []


async def test_a_departure_withdraws_the_overdue_alert_and_its_return_reopens_it(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    waiting, _ = await write(writer, [ARRIVAL], clock=1)
    policy = OverduePolicy(threshold=timedelta(hours=2))
    overdue = [
        new_alert(a, at(5))
        for a in overdue_alerts([(s, "CARRIER-A") for s in waiting.stays], at(5), policy, {})
    ]
    assert await writer.raise_alerts(overdue) == {overdue[0].key}

    await write(writer, [ARRIVAL, DEPARTURE], clock=11)
    assert alerts_of(fresh_database_url, "overdue_stay") == [(overdue[0].key, at(11))]

    # The same condition raised again (a scan offers it) re-opens the row, as new.
    assert await writer.raise_alerts(overdue) == {overdue[0].key}
    assert alerts_of(fresh_database_url, "overdue_stay") == [(overdue[0].key, None)]
    assert await writer.raise_alerts(overdue) == set()


async def test_dead_letter_alerts_are_never_withdrawn(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    letter = AlertRow("dead_letter", at(1), at(1), "W-1", None, "CN-KHORGOS", "unstorable")
    await writer.raise_alerts([letter])

    await write(writer, [ARRIVAL, DEPARTURE], clock=11)

    assert alerts_of(fresh_database_url, "dead_letter") == [(letter.key, None)]


async def test_the_api_tells_open_from_withdrawn_to_the_carrier_only(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, REFERENCE)
    await write(writer, [DEPARTURE], clock=11)
    await write(writer, [ARRIVAL, DEPARTURE], clock=12)
    other = gate(EventType.GATE_DEPARTED, "CN-KHORGOS", 10, cid="W-2")
    await write(writer, [other], clock=12)  # still open
    keys = InMemoryKeyStore()
    carrier = keys.add("a", Role.CARRIER, carrier_id="CARRIER-A")
    stranger = keys.add("b", Role.CARRIER, carrier_id="CARRIER-B")
    app = create_app(
        ApiSettings(database_url=fresh_database_url),
        reads=ApiQueries(storage_pool),
        key_store=keys,
        reference=REFERENCE,
        now=lambda: at(24),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

        async def listed(key: str, **params: str) -> list[tuple[str, str | None]]:
            response = await client.get(
                "/v1/alerts", params=params, headers={"Authorization": f"Bearer {key}"}
            )
            assert response.status_code == 200, response.text
            return [(a["consignment_id"], a["withdrawn_at"]) for a in response.json()["items"]]

        withdrawn = ("W-1", "2026-03-02T12:00:00Z")
        assert await listed(carrier) == [withdrawn, ("W-2", None)]
        assert await listed(carrier, open="true") == [("W-2", None)]
        assert await listed(carrier, open="false") == [withdrawn]
        assert await listed(stranger, open="false") == []
