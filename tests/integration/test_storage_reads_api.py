"""The read methods added for the API, on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio

from corridor.events import EventType, References, TransitEvent
from corridor.journey import ConsignmentState, StayStatus
from simulator import SimulationResult
from storage.db import Pool, create_pool
from storage.reads import ReadRepository
from storage.views import ConsignmentFilter, Granularity
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import at, make_event, make_stay, make_timeline

pytestmark = pytest.mark.integration
Sample = tuple[SimulationResult, list[TransitEvent]]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def sample_reads(populated_database_url: str) -> AsyncIterator[ReadRepository]:
    async with create_pool(populated_database_url, min_size=1, max_size=2) as pool:
        yield ReadRepository(pool)


async def test_search_combines_filters(storage_pool: Pool) -> None:
    plate = References(vehicle_plates=("10AZ777",), tir_carnet="XF98765432")
    writer = WriteRepository(storage_pool)
    await writer.upsert_timelines(
        [
            make_timeline(
                "C-1",
                [make_event("C-1", EventType.GATE_ARRIVED, "KZ-DOSTYK", 1, references=plate)],
                [make_stay("C-1", "KZ-DOSTYK", 1)],
            ),
            make_timeline(
                "C-2",
                [make_event("C-2", EventType.GATE_ARRIVED, "KZ-DOSTYK", 2, references=plate)],
                state=ConsignmentState.DECLARED,
            ),
            make_timeline(
                "C-3",
                [make_event("C-3", EventType.GATE_ARRIVED, "KZ-DOSTYK", 3)],
                carrier_id="CARRIER-B",
            ),
        ]
    )
    reader = ReadRepository(storage_pool)

    async def ids(filters: ConsignmentFilter, carrier: str | None = None) -> list[str]:
        page = await reader.search_consignments(filters, carrier_id=carrier)
        return [c.consignment_id for c in page.items]

    assert await ids(ConsignmentFilter()) == ["C-3", "C-2", "C-1"]
    assert await ids(ConsignmentFilter(vehicle_plate="10 az-777")) == ["C-2", "C-1"]
    assert await ids(
        ConsignmentFilter(tir_carnet="xf98765432", state=ConsignmentState.DECLARED)
    ) == ["C-2"]
    assert await ids(ConsignmentFilter(), carrier="CARRIER-B") == ["C-3"]
    assert await ids(ConsignmentFilter(last_event_before=at(2))) == ["C-1"]
    assert await ids(ConsignmentFilter(mrn="NONE")) == []


async def test_status_and_queues(storage_pool: Pool) -> None:
    writer = WriteRepository(storage_pool)
    await writer.upsert_timeline(
        make_timeline(
            "Q-1",
            [make_event("Q-1", EventType.GATE_ARRIVED, "AZ-RED-BRIDGE", 1)],
            [make_stay("Q-1", "AZ-RED-BRIDGE", 1)],
        )
    )
    reader = ReadRepository(storage_pool)

    status = await reader.consignment_status("Q-1")
    queues = await reader.location_queues()

    assert status is not None
    assert [(s.location, s.status) for s in status.stays] == [
        ("AZ-RED-BRIDGE", StayStatus.IN_PROGRESS)
    ]
    assert await reader.consignment_status("Q-1", carrier_id="CARRIER-B") is None
    assert [(q.location, q.in_progress_count, q.oldest_arrived_at) for q in queues] == [
        ("AZ-RED-BRIDGE", 1, at(1))
    ]
    assert await reader.location_queues(carrier_id="CARRIER-B") == ()
    assert await reader.ping()


async def test_keyset_pages_cover_the_sample_once(
    sample_reads: ReadRepository, sample_run: Sample
) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = await sample_reads.search_consignments(ConsignmentFilter(), limit=17, after=after)
        seen += [c.consignment_id for c in page.items]
        if not page.has_more:
            break
        after = (page.items[-1].last_event_at, page.items[-1].consignment_id)
    assert sorted(seen) == sorted(sample_run[0].truth.consignments)


async def test_all_locations_performance_equals_each_location(
    sample_reads: ReadRepository, sample_run: Sample
) -> None:
    truth = sample_run[0].truth
    start, end = truth.start - timedelta(days=1), truth.end
    everything = await sample_reads.locations_performance(start, end, Granularity.DAY)
    locations = sorted({row.location for row in everything})

    for code in locations[:5]:
        one = await sample_reads.locations_performance(start, end, Granularity.DAY, code)
        assert [row for row in everything if row.location == code] == list(one)


async def test_recent_dwell_takes_completed_stays_that_departed_in_the_window(
    storage_pool: Pool,
) -> None:
    # Window [100 h, 200 h) at KZ-AKTAU. Hours: (arrived, departed or None for open).
    stays = {
        "IN-EARLY-EDGE": (90, 100),  # departed exactly at the window's start: in
        "IN-MIDDLE": (150, 160),
        "OUT-LATE-EDGE": (190, 200),  # departed exactly at its end: out
        "OUT-BEFORE": (50, 99),
        "OUT-OPEN": (150, None),  # still there: no dwell yet
        "OUT-LONG": (-1, 120),  # arrived more than two windows before the end
    }
    writer = WriteRepository(storage_pool)
    await writer.upsert_timelines(
        [
            make_timeline(
                cid,
                [make_event(cid, EventType.GATE_ARRIVED, "KZ-AKTAU", arrived)],
                [make_stay(cid, "KZ-AKTAU", arrived, departed)],
            )
            for cid, (arrived, departed) in stays.items()
        ]
        + [
            make_timeline(
                "ELSEWHERE",
                [make_event("ELSEWHERE", EventType.GATE_ARRIVED, "KZ-KURYK", 150)],
                [make_stay("ELSEWHERE", "KZ-KURYK", 150, 155)],
            )
        ]
    )
    reader = ReadRepository(storage_pool)

    dwells = await reader.recent_dwell_seconds("KZ-AKTAU", at(100), at(200))

    assert sorted(dwells) == [10 * 3600, 10 * 3600]
    assert await reader.tracker_clock() == at(190)  # the latest event stored
