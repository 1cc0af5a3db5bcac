"""Write repository on a real PostgreSQL: idempotent events, convergent timelines, alerts."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from corridor.events import (
    CARRIER_NOT_NAMED,
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransitEvent,
    TransportMode,
)
from corridor.model import ConsignmentState, Crossing, Leg, Stay, StayStatus, Timeline
from corridor.reference import load_reference
from services.common.keys import Role, generate_key, hash_key
from storage.db import Pool, create_pool
from storage.queries.keys import KeyQueries
from storage.rows import AlertRow, ApiKeyRow, TimelineRows
from storage.views import ApiKeyRole
from storage.writes import WriteRepository

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CARRIER = "CARRIER-A"
_IDS = uuid.UUID("0b5e7a11-0000-4000-8000-000000000000")
TABLES = ("transit_events", "consignments", "stays", "crossings", "legs", "alerts")


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def make_event(
    consignment_id: str,
    event_type: EventType,
    location: str,
    hours: float,
    carrier_id: str = CARRIER,
    references: References | None = None,
    **attributes: Any,
) -> TransitEvent:
    return TransitEvent(
        event_id=uuid.uuid5(_IDS, f"{consignment_id}|{event_type}|{location}|{hours}"),
        event_type=event_type,
        occurred_at=at(hours),
        location=location,
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        references=references or References(),
        source=Source(system=SourceSystem.GATE),
        attributes=EventAttributes(**attributes),
    )


def make_stay(
    consignment_id: str,
    location: str,
    arrived: float,
    departed: float | None = None,
    released: float | None = None,
    visit: int = 1,
) -> Stay:
    return Stay(
        consignment_id=consignment_id,
        location=location,
        visit=visit,
        arrived_at=at(arrived),
        status=StayStatus.IN_PROGRESS if departed is None else StayStatus.COMPLETED,
        released_at=at(released) if released is not None else None,
        departed_at=at(departed) if departed is not None else None,
    )


def make_timeline(
    consignment_id: str,
    events: Iterable[TransitEvent],
    stays: Iterable[Stay] = (),
    crossings: Iterable[Crossing] = (),
    legs: Iterable[Leg] = (),
    carrier_id: str | None = CARRIER,
    state: ConsignmentState = ConsignmentState.AT_LOCATION,
    current_location: str | None = None,
) -> Timeline:
    ordered = tuple(sorted(events, key=lambda e: e.sort_key))
    return Timeline(
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        state=state,
        current_location=current_location or (ordered[-1].location if ordered else None),
        last_event_at=ordered[-1].occurred_at,
        route_id="road-nur-zholy-aktau-kapikule",
        events=ordered,
        stays=tuple(stays),
        crossings=tuple(crossings),
        legs=tuple(legs),
    )


def khorgos_journey(consignment_id: str, dwell_hours: float = 20.0) -> list[Timeline]:
    """Successive timelines of one truck: Khorgos (CN) then Nur Zholy (KZ)."""
    refs = References(tir_carnet="XH12345678", vehicle_plates=("01 abc-123",))
    e1 = make_event(
        consignment_id,
        EventType.GATE_ARRIVED,
        "CN-KHORGOS",
        0,
        references=refs,
        mode=TransportMode.ROAD,
    )
    e2 = make_event(consignment_id, EventType.GATE_DEPARTED, "CN-KHORGOS", dwell_hours)
    e3 = make_event(consignment_id, EventType.GATE_ARRIVED, "KZ-NUR-ZHOLY", dwell_hours + 1)
    e4 = make_event(consignment_id, EventType.GATE_DEPARTED, "KZ-NUR-ZHOLY", dwell_hours + 5)
    first = make_stay(consignment_id, "CN-KHORGOS", 0, dwell_hours)
    second_open = make_stay(consignment_id, "KZ-NUR-ZHOLY", dwell_hours + 1)
    second = make_stay(consignment_id, "KZ-NUR-ZHOLY", dwell_hours + 1, dwell_hours + 5)
    crossing_open = Crossing(
        consignment_id, "khorgos-nur-zholy", "CN-KHORGOS", "KZ-NUR-ZHOLY", "CN->KZ", at(0), None
    )
    crossing = replace(crossing_open, departed_at=at(dwell_hours + 5))
    leg = Leg(
        consignment_id,
        "CN-KHORGOS",
        "KZ-NUR-ZHOLY",
        TransportMode.ROAD,
        at(dwell_hours),
        at(dwell_hours + 1),
        30.0,
        int(dwell_hours * 3600),
    )
    return [
        make_timeline(
            consignment_id,
            [e1],
            [replace(first, status=StayStatus.IN_PROGRESS, departed_at=None)],
            [crossing_open],
        ),
        make_timeline(
            consignment_id, [e1, e2], [first], [crossing_open], state=ConsignmentState.IN_TRANSIT
        ),
        make_timeline(consignment_id, [e1, e2, e3], [first, second_open], [crossing_open], [leg]),
        make_timeline(
            consignment_id,
            [e1, e2, e3, e4],
            [first, second],
            [crossing],
            [leg],
            state=ConsignmentState.IN_TRANSIT,
        ),
    ]


def dump(dsn: str) -> dict[str, list[str]]:
    """Every row of every table as JSON text, sorted: equal dumps mean equal tables."""
    with psycopg.connect(dsn) as conn:
        return {
            table: sorted(
                str(row[0])
                for row in conn.execute(f"SELECT to_jsonb(t)::text FROM {table} AS t").fetchall()
            )
            for table in TABLES
        }


def row_of(dsn: str, query: str, *params: Any) -> tuple[Any, ...] | None:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchone()


async def test_insert_events_counts_new_rows_on_both_paths(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    small = WriteRepository(storage_pool)
    batch = WriteRepository(storage_pool, copy_threshold=1)
    events = [make_event(f"C-{i}", EventType.GATE_ARRIVED, "CN-KHORGOS", i) for i in range(10)]

    assert await small.insert_events(events[:4]) == 4
    assert await batch.insert_events(events + events[:2]) == 6  # dups in and across batches
    assert await batch.insert_events(events) == 0
    assert await small.insert_events(events[:3]) == 0
    assert row_of(fresh_database_url, "SELECT count(*) FROM transit_events") == (10,)
    stored = row_of(
        fresh_database_url,
        "SELECT payload, fingerprint FROM transit_events WHERE event_id = %s",
        events[0].event_id,
    )
    assert stored is not None
    assert TransitEvent.model_validate(stored[0]) == events[0]
    assert stored[1] == events[0].fingerprint()


async def test_replaying_a_batch_leaves_identical_tables(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool, load_reference(), copy_threshold=3)
    timelines = [t for i in range(3) for t in khorgos_journey(f"R-{i}")]
    events = [e for t in timelines for e in t.events]
    alerts = [AlertRow("long_dwell", at(20), at(21), "R-0", CARRIER, "CN-KHORGOS", "20 h")]

    first = await writer.write_batch(events, timelines, alerts)
    before = dump(fresh_database_url)
    second = await writer.write_batch(events, timelines, alerts)

    assert (first.events_inserted, first.timelines_applied, first.alerts_raised) == (12, 3, 1)
    assert (second.events_inserted, second.timelines_applied, second.alerts_raised) == (0, 0, 0)
    assert dump(fresh_database_url) == before


async def test_in_progress_then_completed_converges(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool)
    steps = khorgos_journey("O-1")
    for timeline in steps:
        await writer.upsert_timeline(timeline)

    stays = _stays(fresh_database_url, "O-1")
    assert stays == [
        ("CN-KHORGOS", 1, "completed", 20 * 3600),
        ("KZ-NUR-ZHOLY", 1, "completed", 4 * 3600),
    ]


async def test_completed_then_stale_in_progress_is_ignored(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool)
    steps = khorgos_journey("O-2")
    assert await writer.upsert_timeline(steps[-1]) is True
    before = dump(fresh_database_url)

    for stale in reversed(steps[:-1]):
        assert await writer.upsert_timeline(stale) is False
    assert await writer.upsert_timelines(list(reversed(steps))) == 0

    assert dump(fresh_database_url) == before
    assert _stays(fresh_database_url, "O-2")[1] == ("KZ-NUR-ZHOLY", 1, "completed", 4 * 3600)
    state = row_of(
        fresh_database_url,
        "SELECT state, event_count FROM consignments WHERE consignment_id = 'O-2'",
    )
    assert state == ("in_transit", 4)


async def test_rows_the_new_timeline_no_longer_has_are_deleted(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    writer = WriteRepository(storage_pool)
    cid = "V-1"
    late = make_event(cid, EventType.GATE_ARRIVED, "AZ-ALAT", 5)
    await writer.upsert_timeline(make_timeline(cid, [late], [make_stay(cid, "AZ-ALAT", 5)]))

    # A late earlier visit re-orders visits: the stay at 5 h becomes visit 2.
    earlier = [
        make_event(cid, EventType.GATE_ARRIVED, "AZ-ALAT", 1),
        make_event(cid, EventType.GATE_DEPARTED, "AZ-ALAT", 2),
    ]
    await writer.upsert_timeline(
        make_timeline(
            cid,
            [*earlier, late],
            [make_stay(cid, "AZ-ALAT", 1, 2), make_stay(cid, "AZ-ALAT", 5, visit=2)],
        )
    )

    assert _stays(fresh_database_url, cid) == [
        ("AZ-ALAT", 1, "completed", 3600),
        ("AZ-ALAT", 2, "in_progress", None),
    ]


async def test_alerts_are_raised_once(storage_pool: Pool, fresh_database_url: str) -> None:
    writer = WriteRepository(storage_pool)
    alert = AlertRow("off_route", at(1), at(2), "A-1", CARRIER, "TR-SARP", "not on route")
    assert await writer.insert_alerts([alert, alert]) == 1
    assert await writer.insert_alerts([replace(alert, raised_at=at(3))]) == 0
    assert row_of(fresh_database_url, "SELECT count(*) FROM alerts") == (1,)


async def test_no_carrier_key_can_be_stored_for_events_naming_no_carrier(
    storage_pool: Pool,
) -> None:
    key = generate_key(Role.CARRIER)
    unclaimed = ApiKeyRow(
        "sees unclaimed consignments",
        ApiKeyRole.CARRIER,
        key.lookup_prefix,
        key.digest,
        carrier_id=CARRIER_NOT_NAMED,
    )

    with pytest.raises(psycopg.errors.CheckViolation, match="api_keys_carrier_named"):
        await WriteRepository(storage_pool).insert_api_key(unclaimed)


async def test_api_keys_store_only_the_hash(storage_pool: Pool, fresh_database_url: str) -> None:
    writer, reader = WriteRepository(storage_pool), KeyQueries(storage_pool)
    key = generate_key(Role.OPERATOR)
    key_id = await writer.insert_api_key(
        ApiKeyRow(
            "gate publisher",
            ApiKeyRole.PUBLISHER,
            key.lookup_prefix,
            key.digest,
            allowed_locations=("KZ-NUR-ZHOLY",),
        )
    )

    found = await reader.api_key_by_hash(hash_key(key.plain))
    assert found is not None
    assert (found.id, found.role, found.allowed_locations) == (
        key_id,
        ApiKeyRole.PUBLISHER,
        ("KZ-NUR-ZHOLY",),
    )
    stored = dump_api_keys(fresh_database_url)
    assert key.plain not in stored

    assert await writer.revoke_api_key(key_id, at(1)) is True
    assert await reader.api_key_by_hash(key.digest) is None
    revoked = await reader.api_key_by_hash(key.digest, include_revoked=True)
    assert revoked is not None
    assert not revoked.active


def dump_api_keys(dsn: str) -> str:
    with psycopg.connect(dsn) as conn:
        return str(conn.execute("SELECT json_agg(k)::text FROM api_keys AS k").fetchone())


def _stays(dsn: str, consignment_id: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(
            "SELECT location, visit, status, dwell_seconds FROM stays"
            " WHERE consignment_id = %s ORDER BY arrived_at",
            (consignment_id,),
        ).fetchall()


async def test_writing_only_the_changes_gives_the_same_tables_as_rewriting(
    postgres_dsn_base: str,
    _migrated_template: str,  # noqa: PT019 - its value (the template's name) is used
) -> None:
    """With `stored`, only changed child rows are written; the tables must not differ."""
    from tests.fixtures.postgres import _create, _drop, _unique_name

    steps = khorgos_journey("D-1")
    cid = "V-2"
    late = make_event(cid, EventType.GATE_ARRIVED, "AZ-ALAT", 5)
    earlier = [
        make_event(cid, EventType.GATE_ARRIVED, "AZ-ALAT", 1),
        make_event(cid, EventType.GATE_DEPARTED, "AZ-ALAT", 2),
    ]
    reordered = [
        make_timeline(cid, [late], [make_stay(cid, "AZ-ALAT", 5)]),
        make_timeline(
            cid,
            [*earlier, late],
            [make_stay(cid, "AZ-ALAT", 1, 2), make_stay(cid, "AZ-ALAT", 5, visit=2)],
        ),
    ]
    dumps = []
    for with_stored in (False, True):
        name = _unique_name("delta")
        dsn = _create(postgres_dsn_base, name, template=_migrated_template)
        try:
            async with create_pool(dsn, min_size=1, max_size=1) as pool:
                writer = WriteRepository(pool)
                for sequence in (steps, reordered):
                    before: TimelineRows | None = None
                    for timeline in sequence:
                        stored = {timeline.consignment_id: before} if with_stored and before else {}
                        result = await writer.write_batch(timelines=[timeline], stored=stored)
                        assert result.applied_ids == {timeline.consignment_id}
                        before = result.written[timeline.consignment_id]
            dumps.append(_without_update_times(dump(dsn)))
        finally:
            _drop(postgres_dsn_base, name)
    assert dumps[0] == dumps[1]


def _without_update_times(tables: dict[str, list[str]]) -> dict[str, list[str]]:
    import json

    return {
        table: sorted(
            json.dumps(
                {k: v for k, v in json.loads(row).items() if k not in ("updated_at", "created_at")}
            )
            for row in rows
        )
        for table, rows in tables.items()
    }
