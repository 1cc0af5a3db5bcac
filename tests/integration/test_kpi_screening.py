"""KPIs leave out what a plausibility rule voided, and say how many: exact and rollups."""

from __future__ import annotations

from datetime import timedelta

from corridor.events import EventType
from corridor.reference import load_reference
from corridor.timeline import build_timeline
from storage.db import Pool
from storage.kpi_refresh import refresh_kpi_views
from storage.reads import ReadRepository
from storage.views import Granularity, Percentiles
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import T0, make_event

pytest_plugins = ["tests.fixtures.postgres"]
NUR_ZHOLY, AKTAU = "KZ-NUR-ZHOLY", "KZ-AKTAU"


def journey(cid: str, to_aktau_hours: float, aktau_dwell_hours: float) -> list:  # type: ignore[type-arg]
    """Nur Zholy for an hour, then Aktau `to_aktau_hours` later (3,050 km of road)."""
    aktau = 1 + to_aktau_hours
    return [
        make_event(cid, EventType.GATE_ARRIVED, NUR_ZHOLY, 0),
        make_event(cid, EventType.GATE_DEPARTED, NUR_ZHOLY, 1),
        make_event(cid, EventType.GATE_ARRIVED, AKTAU, aktau),
        make_event(cid, EventType.GATE_DEPARTED, AKTAU, aktau + aktau_dwell_hours),
    ]


async def _load(pool: Pool) -> None:
    reference = load_reference()
    timelines = [
        build_timeline(journey("PLAUSIBLE-1", 70, 6), reference),
        build_timeline(journey("PLAUSIBLE-2", 74, 8), reference),
        # The truck: 3,050 km in 13.8 h; and a stay departed the instant it arrived.
        build_timeline(journey("TOO-FAST", 13.8, 0), reference),
    ]
    assert [len(t.implausible_legs) for t in timelines] == [0, 0, 1]
    assert [len(t.implausible_stays) for t in timelines] == [0, 0, 1]
    await WriteRepository(pool).upsert_timelines(timelines)
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)


async def test_voided_legs_and_stays_are_left_out_and_counted(storage_pool: Pool) -> None:
    await _load(storage_pool)
    reads = ReadRepository(storage_pool)
    start, end = T0 - timedelta(days=2), T0 + timedelta(days=8)
    for percentiles in Percentiles:
        legs = await reads.leg_performance(start, end, NUR_ZHOLY, AKTAU, percentiles=percentiles)
        assert [(leg.legs_count, leg.excluded_count) for leg in legs] == [(2, 1)], percentiles
        assert legs[0].travel_median_seconds is not None
        assert legs[0].travel_median_seconds > 60 * 3600  # the 13.8 h leg is not in it
        days = await reads.locations_performance(
            start, end, Granularity.DAY, AKTAU, percentiles=percentiles
        )
        assert sum(d.stays_count for d in days) == 3
        assert sum(d.completed_count for d in days) == 2, percentiles
        assert sum(d.excluded_count for d in days) == 1, percentiles
        assert all((d.dwell_median_seconds or 1) > 0 for d in days)
    weeks = await reads.locations_performance(
        start, end, Granularity.WEEK, AKTAU, percentiles=Percentiles.SKETCH
    )
    assert (sum(w.completed_count for w in weeks), sum(w.excluded_count for w in weeks)) == (2, 1)
