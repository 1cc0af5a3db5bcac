"""Read queries on a real PostgreSQL: carrier scoping, reference search, keyset pages."""

from __future__ import annotations

import pytest

from corridor.events import EventType, References
from corridor.journey import ConsignmentState
from storage.db import Pool
from storage.reads import ReadRepository
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import (
    at,
    khorgos_journey,
    make_event,
    make_stay,
    make_timeline,
)

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration


async def test_foreign_carrier_gets_none_like_an_unknown_id(storage_pool: Pool) -> None:
    await WriteRepository(storage_pool).upsert_timeline(khorgos_journey("F-1")[-1])
    reader = ReadRepository(storage_pool)

    assert (await reader.consignment("F-1", carrier_id="CARRIER-A")) is not None
    assert await reader.consignment("F-1", carrier_id="CARRIER-B") is None
    assert await reader.consignment("NOPE", carrier_id="CARRIER-B") is None
    assert await reader.timeline("F-1", carrier_id="CARRIER-B") is None


async def test_timeline_pieces_in_order(storage_pool: Pool) -> None:
    writer = WriteRepository(storage_pool)
    final = khorgos_journey("P-1")[-1]
    await writer.write_batch(events=list(reversed(final.events)), timelines=[final])

    view = await ReadRepository(storage_pool).timeline("P-1")

    assert view is not None
    assert view.events == final.events
    assert [(s.location, s.dwell_seconds) for s in view.stays] == [
        ("CN-KHORGOS", 20 * 3600),
        ("KZ-NUR-ZHOLY", 4 * 3600),
    ]
    assert [c.tfi1_seconds for c in view.crossings] == [25 * 3600]
    assert [(leg.travel_seconds, leg.swod_kmh) for leg in view.legs] == [(3600, 30.0)]
    assert view.consignment.references.tir_carnet == "XH12345678"
    assert view.consignment.references.vehicle_plates == ("01ABC123",)
    assert view.consignment.state is ConsignmentState.IN_TRANSIT


async def test_search_by_any_reference(storage_pool: Pool) -> None:
    refs = References(
        tir_carnet="XF98765432",
        mrn="24KZ0001000012345X",
        permit_id="TR-AZ-2026-1-7",
        vehicle_plates=("10 AZ 777",),
        container_numbers=("CSQU3054383",),
    )
    event = make_event("S-1", EventType.DECLARATION_ACCEPTED, "KZ-NUR-ZHOLY", 1, references=refs)
    other = make_event(
        "S-2",
        EventType.GATE_ARRIVED,
        "KZ-NUR-ZHOLY",
        2,
        carrier_id="CARRIER-B",
        references=References(vehicle_plates=("10AZ777",)),
    )
    writer = WriteRepository(storage_pool)
    await writer.upsert_timelines(
        [
            make_timeline("S-1", [event], state=ConsignmentState.DECLARED),
            make_timeline("S-2", [other], carrier_id="CARRIER-B"),
        ]
    )
    reader = ReadRepository(storage_pool)

    for value in ("XF98765432", "24KZ0001000012345X", "TR-AZ-2026-1-7", "CSQU3054383", "S-1"):
        page = await reader.search_by_reference(value)
        assert [c.consignment_id for c in page.items] == ["S-1"], value
    plate = await reader.search_by_reference("10-az 777")
    assert [c.consignment_id for c in plate.items] == ["S-2", "S-1"]  # newest first
    scoped = await reader.search_by_reference("10 AZ 777", carrier_id="CARRIER-A")
    assert [c.consignment_id for c in scoped.items] == ["S-1"]
    assert (await reader.search_by_reference("XX00000000")).items == ()


async def test_keyset_pagination_returns_each_row_exactly_once(storage_pool: Pool) -> None:
    plate = References(vehicle_plates=("77KZ001",))
    # Groups of three share a last_event_at: the cursor must break ties on the id.
    timelines = [
        make_timeline(
            f"K-{i:02d}",
            [
                make_event(
                    f"K-{i:02d}", EventType.GATE_ARRIVED, "KZ-DOSTYK", i // 3, references=plate
                )
            ],
        )
        for i in range(23)
    ]
    await WriteRepository(storage_pool).upsert_timelines(timelines)
    reader = ReadRepository(storage_pool)

    seen: list[str] = []
    after = None
    for _ in range(10):
        page = await reader.search_by_reference("77KZ001", limit=5, after=after)
        seen.extend(c.consignment_id for c in page.items)
        if not page.has_more:
            break
        after = (page.items[-1].last_event_at, page.items[-1].consignment_id)

    assert sorted(seen) == sorted(t.consignment_id for t in timelines)
    assert len(seen) == len(set(seen)) == 23


async def test_in_progress_at_location(storage_pool: Pool) -> None:
    writer = WriteRepository(storage_pool)
    for cid, arrived in (("Q-1", 1.0), ("Q-2", 3.0)):
        event = make_event(cid, EventType.GATE_ARRIVED, "AZ-RED-BRIDGE", arrived)
        await writer.upsert_timeline(
            make_timeline(cid, [event], [make_stay(cid, "AZ-RED-BRIDGE", arrived)])
        )
    done = [
        make_event("Q-3", EventType.GATE_ARRIVED, "AZ-RED-BRIDGE", 0),
        make_event("Q-3", EventType.GATE_DEPARTED, "AZ-RED-BRIDGE", 2),
    ]
    await writer.upsert_timeline(
        make_timeline("Q-3", done, [make_stay("Q-3", "AZ-RED-BRIDGE", 0, 2)])
    )

    queue = await ReadRepository(storage_pool).in_progress_at("AZ-RED-BRIDGE", as_of=at(5))

    assert [(q.consignment_id, q.waiting_seconds) for q in queue] == [
        ("Q-1", 4 * 3600),
        ("Q-2", 2 * 3600),
    ]
