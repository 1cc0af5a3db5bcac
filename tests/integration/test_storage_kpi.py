"""KPI aggregates and reads against a hand-made data set with independently computed stats."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

import psycopg
import pytest

from corridor.events import EventType, TransportMode
from corridor.journey import Crossing, Leg
from storage.db import Pool
from storage.kpi_refresh import KPI_VIEWS, refresh_kpi_views
from storage.reads import ReadRepository
from storage.views import Granularity
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import T0, at, make_event, make_stay, make_timeline

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

LOCATION = "KZ-NUR-ZHOLY"
BORDER = "khorgos-nur-zholy"


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def dwell_hours() -> dict[int, list[float]]:
    """Completed dwell (hours) of stays arriving in hour 0 and hour 1 of T0's day."""
    rng = random.Random(7)
    return {
        hour: [round(rng.lognormvariate(2.5, 0.8), 3) for _ in range(11 + hour * 6)]
        for hour in (0, 1)
    }


async def _load(pool: Pool) -> dict[int, list[float]]:
    data = dwell_hours()
    timelines = []
    for hour, dwells in data.items():
        for i, dwell in enumerate(dwells):
            cid = f"D-{hour}-{i}"
            arrived = hour + i / 100
            events = [
                make_event(cid, EventType.GATE_ARRIVED, LOCATION, arrived, mode=TransportMode.ROAD),
                make_event(cid, EventType.GATE_DEPARTED, LOCATION, arrived + dwell),
            ]
            crossing = Crossing(
                cid, BORDER, "CN-KHORGOS", LOCATION, "CN->KZ", at(arrived), at(arrived + dwell)
            )
            leg = Leg(
                cid,
                "CN-KHORGOS",
                LOCATION,
                TransportMode.ROAD,
                at(arrived - 1),
                at(arrived),
                60.0 * (1 + i % 3),
                3600,
            )
            timelines.append(
                make_timeline(
                    cid,
                    events,
                    [make_stay(cid, LOCATION, arrived, arrived + dwell)],
                    [crossing],
                    [leg],
                )
            )
    for i in range(3):  # still waiting: counted as in progress, not in the dwell stats
        cid = f"W-{i}"
        event = make_event(cid, EventType.GATE_ARRIVED, LOCATION, 0.5 + i / 10)
        timelines.append(make_timeline(cid, [event], [make_stay(cid, LOCATION, 0.5 + i / 10)]))
    await WriteRepository(pool).upsert_timelines(timelines)
    return data


async def test_location_performance_exact_median_and_p90(storage_pool: Pool) -> None:
    data = await _load(storage_pool)
    rows = await ReadRepository(storage_pool).location_performance(
        LOCATION, T0, T0 + timedelta(days=1), Granularity.HOUR
    )

    assert [r.bucket for r in rows] == [at(0), at(1)]
    for row, hour in zip(rows, (0, 1), strict=True):
        seconds = [d * 3600 for d in data[hour]]
        assert row.completed_count == len(seconds)
        assert row.in_progress_count == (3 if hour == 0 else 0)
        assert row.dwell_median_seconds == pytest.approx(statistics.median(seconds), abs=1)
        assert row.dwell_p90_seconds == pytest.approx(percentile_cont(seconds, 0.9), abs=1)
        assert row.dwell_mean_seconds == pytest.approx(statistics.fmean(seconds), abs=1)

    daily = await ReadRepository(storage_pool).location_performance(
        LOCATION, T0, T0 + timedelta(days=1), Granularity.DAY
    )
    everything = [d * 3600 for hour in (0, 1) for d in data[hour]]
    assert daily[0].dwell_p90_seconds == pytest.approx(percentile_cont(everything, 0.9), abs=1)


async def test_crossing_and_leg_performance(storage_pool: Pool) -> None:
    data = await _load(storage_pool)
    reader = ReadRepository(storage_pool)
    end = T0 + timedelta(days=2)

    (crossing,) = await reader.crossing_performance(T0, end, border_id=BORDER)
    tfi1 = [d * 3600 for hour in (0, 1) for d in data[hour]]
    assert (crossing.direction, crossing.completed_count) == ("CN->KZ", len(tfi1))
    assert crossing.tfi1_median_seconds == pytest.approx(statistics.median(tfi1), abs=1)
    assert crossing.tfi1_p90_seconds == pytest.approx(percentile_cont(tfi1, 0.9), abs=1)

    (legs,) = await reader.leg_performance(T0 - timedelta(days=1), end, "CN-KHORGOS")
    speeds = [60.0 * (1 + i % 3) for hour in (0, 1) for i in range(len(data[hour]))]
    assert legs.legs_count == len(speeds)
    assert legs.travel_median_seconds == 3600
    assert legs.swod_median_kmh == pytest.approx(statistics.median(speeds))


async def test_kpi_views_after_refresh(storage_pool: Pool, fresh_database_url: str) -> None:
    data = await _load(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        assert await refresh_kpi_views(conn) == tuple(sorted(KPI_VIEWS))
        assert await refresh_kpi_views(conn) == tuple(sorted(KPI_VIEWS))  # concurrently now

    with psycopg.connect(fresh_database_url) as conn:
        hourly = conn.execute(
            "SELECT bucket, completed_count, in_progress_count, dwell_median_seconds,"
            " dwell_p90_seconds, dwell_histogram FROM location_dwell_hourly"
            " WHERE location = %s AND mode = 'road' ORDER BY bucket",
            (LOCATION,),
        ).fetchall()
        rolled_up = conn.execute(
            "SELECT kpi_histogram_sum(dwell_histogram) FROM location_dwell_hourly"
            " WHERE location = %s",
            (LOCATION,),
        ).fetchone()
        daily = conn.execute(
            "SELECT completed_count, dwell_histogram, dwell_p90_seconds,"
            " kpi_histogram_percentile(dwell_histogram, 0.5) FROM location_dwell_daily"
            " WHERE location = %s AND mode = 'road'",
            (LOCATION,),
        ).fetchone()
        crossing = conn.execute(
            "SELECT completed_count, tfi1_p90_seconds FROM crossing_time_daily"
            " WHERE border_id = %s",
            (BORDER,),
        ).fetchone()

    for (bucket, completed, _, median, p90, histogram), hour in zip(hourly, (0, 1), strict=True):
        seconds = [d * 3600 for d in data[hour]]
        assert bucket == at(hour)
        assert completed == len(seconds) == sum(histogram)
        assert median == pytest.approx(statistics.median(seconds), abs=1)
        assert p90 == pytest.approx(percentile_cont(seconds, 0.9), abs=1)
    everything = [d * 3600 for hour in (0, 1) for d in data[hour]]
    assert daily is not None
    assert rolled_up is not None
    assert daily[0] == len(everything)
    assert rolled_up[0] == daily[1]  # hourly histograms add up to the daily one
    assert daily[2] == pytest.approx(percentile_cont(everything, 0.9), abs=1)
    # The histogram's median is approximate, but within the slot holding the exact one.
    assert abs(daily[3] - statistics.median(everything)) < 12 * 3600
    assert crossing == (len(everything), pytest.approx(percentile_cont(everything, 0.9), abs=1))


async def test_live_views(storage_pool: Pool, fresh_database_url: str) -> None:
    await _load(storage_pool)
    with psycopg.connect(fresh_database_url) as conn:
        queue = conn.execute(
            "SELECT in_progress_count, oldest_arrived_at FROM location_queue_now"
            " WHERE location = %s",
            (LOCATION,),
        ).fetchone()
        waiting = conn.execute("SELECT count(*) FROM stays_in_progress").fetchone()
    assert queue == (3, at(0.5))
    assert waiting == (3,)
