"""The tracker's event-time clock on PostgreSQL: the slowest partition's newest event.

During a catch-up one partition's events can run days ahead of another's; judged by the
newest event of all, consignments of the slow partition would look overdue. The clock
the overdue scan and the API use is therefore the minimum over partitions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
import pytest

from corridor.alerts import Alert, AlertKind
from corridor.events import EventType
from corridor.reference import load_reference
from services.tracker.store import PostgresTrackingStore
from storage.db import Pool
from storage.progress import DatabaseBehind, PartitionProgress
from storage.queries.api import ApiQueries
from storage.queries.tracker import TrackerQueries
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import at, make_event, make_stay, make_timeline

pytestmark = pytest.mark.integration
TOPIC = "corridor.transit-events"


def read(newest: datetime) -> PartitionProgress:
    return PartitionProgress(newest, next_offset=1)


async def _clocks(pool: Pool) -> tuple[object, object]:
    return await TrackerQueries(pool).watermark(), await ApiQueries(pool).tracker_clock()


async def test_the_clock_is_the_slowest_partitions_newest_event(storage_pool: Pool) -> None:
    writer = WriteRepository(storage_pool)
    # Partition 0 has read ten days ahead of partition 3.
    await writer.write_batch(progress={(TOPIC, 0): read(at(240)), (TOPIC, 3): read(at(20))})
    assert await _clocks(storage_pool) == (at(20), at(20))

    # A late event (older than what partition 3 has read) leaves its clock alone ...
    await writer.write_batch(progress={(TOPIC, 3): read(at(5))})
    assert await _clocks(storage_pool) == (at(20), at(20))

    # ... and partition 3 catching up moves the clock to the next slowest.
    await writer.write_batch(progress={(TOPIC, 3): read(at(300))})
    assert await _clocks(storage_pool) == (at(240), at(240))


async def test_progress_is_part_of_the_batch_transaction(storage_pool: Pool) -> None:
    writer = WriteRepository(storage_pool)
    await writer.write_batch(progress={(TOPIC, 1): read(at(10))})
    arrived = make_event("C-1", EventType.GATE_ARRIVED, "KZ-AKTAU", 50)
    with pytest.raises(psycopg.errors.CheckViolation):  # no partition -1: the batch fails
        await writer.write_batch(
            events=[arrived],
            timelines=[make_timeline("C-1", [arrived], [make_stay("C-1", "KZ-AKTAU", 50)])],
            progress={(TOPIC, 1): read(at(50)), (TOPIC, -1): read(at(50))},
        )
    assert await _clocks(storage_pool) == (at(10), at(10))
    assert await ApiQueries(storage_pool).consignment_status("C-1") is None


async def test_without_recorded_progress_the_latest_stored_event_is_the_clock(
    storage_pool: Pool,
) -> None:
    # A database filled by other means than the tracker (a restore, the sample month).
    assert await _clocks(storage_pool) == (None, None)
    writer = WriteRepository(storage_pool)
    await writer.upsert_timelines(
        [
            make_timeline(cid, [make_event(cid, EventType.GATE_ARRIVED, "KZ-AKTAU", hours)])
            for cid, hours in (("C-1", 30), ("C-2", 70))
        ]
    )
    assert await _clocks(storage_pool) == (at(70), at(70))
    await writer.write_batch(progress={(TOPIC, 2): read(at(70) - timedelta(hours=1))})
    assert await _clocks(storage_pool) == (at(69), at(69))


async def test_an_overdue_scan_learns_in_one_statement_which_alerts_are_new(
    fresh_database_url: str,
) -> None:
    # Each scan offers every overdue stay again; only the first offer is news.
    def overdue(consignment_id: str) -> Alert:
        return Alert(
            kind=AlertKind.OVERDUE_STAY,
            consignment_id=consignment_id,
            carrier_id="carrier-kz-01",
            location="KZ-AKTAU",
            occurred_at=at(1),
            detail="open for 80 h",
            dedup_key=f"overdue_stay:{consignment_id}:KZ-AKTAU:1",
        )

    store = PostgresTrackingStore(fresh_database_url, load_reference(), clock=lambda: at(100))
    try:
        first = await store.insert_alerts([overdue("C-1"), overdue("C-2")])
        second = await store.insert_alerts([overdue("C-2"), overdue("C-3"), overdue("C-1")])
    finally:
        await store.close()
    assert [a.consignment_id for a in first] == ["C-1", "C-2"]
    assert [a.consignment_id for a in second] == ["C-3"]


async def test_a_batch_finding_the_database_behind_what_was_stored_there_writes_nothing(
    storage_pool: Pool,
) -> None:
    writer = WriteRepository(storage_pool)
    await writer.write_batch(progress={(TOPIC, 0): PartitionProgress(at(10), next_offset=40)})
    offsets = await writer.stored_offsets([(TOPIC, 0), (TOPIC, 1)])
    assert offsets == {(TOPIC, 0): 40, (TOPIC, 1): 0}  # no row: read it all

    # A replayed batch's older offset leaves the stored one alone.
    await writer.write_batch(
        progress={(TOPIC, 0): PartitionProgress(at(5), next_offset=20)},
        expected_offsets={(TOPIC, 0): 40},
    )
    assert await writer.stored_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 40}

    # This process stored up to 60, the database holds 40: it was restored from a backup.
    arrived = make_event("C-1", EventType.GATE_ARRIVED, "KZ-AKTAU", 50)
    with pytest.raises(DatabaseBehind) as behind:
        await writer.write_batch(
            events=[arrived],
            progress={(TOPIC, 0): PartitionProgress(at(50), next_offset=90)},
            expected_offsets={(TOPIC, 0): 60},
        )
    assert behind.value.resume_at == {(TOPIC, 0): 40}
    assert await writer.stored_offsets([(TOPIC, 0)]) == {(TOPIC, 0): 40}
    async with storage_pool.connection() as conn:
        row = await (await conn.execute("SELECT count(*) FROM transit_events")).fetchone()
    assert row == (0,)
