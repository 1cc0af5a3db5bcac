"""KPI aggregates and reads against a hand-made data set with independently computed stats."""

from __future__ import annotations

import math
import random
import statistics
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime, timedelta

import psycopg
import pytest

from corridor.events import EventType, TransportMode
from corridor.journey import Crossing, Leg, Stay
from storage.db import Pool
from storage.kpi_refresh import REFRESH_ORDER, refresh_kpi_views
from storage.reads import (
    DURATION_EDGES_SECONDS,
    SPEED_EDGES_KMH,
    ReadRepository,
    histogram_percentile,
    histogram_percentiles,
)
from storage.views import Granularity, LocationPerformance, Percentiles
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import T0, at, make_event, make_stay, make_timeline

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

# The documented histogram edges (docs/api.md), written out here independently.
DURATION_EDGES = [0, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200, 432000,
                  604800, 864000, 1209600]  # fmt: skip
SPEED_EDGES = [0, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 80]
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
        assert await refresh_kpi_views(conn) == REFRESH_ORDER
        assert await refresh_kpi_views(conn) == REFRESH_ORDER  # concurrently now

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


async def test_weekly_rollup_adds_up_the_daily_rows(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    await _load_weeks(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)

    with psycopg.connect(fresh_database_url) as conn:
        weekly = conn.execute(
            "SELECT bucket, location, stays_count, completed_count, in_progress_count,"
            " dwell_sum_seconds, dwell_max_seconds, dwell_histogram, dwell_mean_seconds,"
            " dwell_histogram_median_seconds, dwell_histogram_p90_seconds"
            " FROM location_dwell_weekly ORDER BY 1, 2"
        ).fetchall()
        from_daily = conn.execute(
            """SELECT date_trunc('week', bucket, 'UTC'), location, sum(stays_count),
                      sum(completed_count), sum(in_progress_count), sum(dwell_sum_seconds),
                      max(dwell_max_seconds), kpi_histogram_sum(dwell_histogram),
                      sum(dwell_sum_seconds)::float8 / nullif(sum(completed_count), 0)
               FROM location_dwell_daily GROUP BY 1, 2 ORDER BY 1, 2"""
        ).fetchall()
        rows_per_day = conn.execute(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM location_dwell_daily"
            " GROUP BY bucket, location) AS days"
        ).fetchone()

    assert [row[:9] for row in weekly] == from_daily
    for row in weekly:  # the week's percentiles: histogram_percentile's very numbers
        assert row[9:] == (histogram_percentile(row[7], 0.5), histogram_percentile(row[7], 0.9))
    assert {row[0].weekday() for row in weekly} == {0}  # weeks start on Monday
    assert len({row[0] for row in weekly}) == 7
    assert rows_per_day == (2,)  # a row per mode on some days: more than one to add up


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


def within_histogram_bound(
    estimate: float | None, values: list[float], fraction: float, edges: Sequence[float]
) -> bool:
    """The documented bound of a histogram percentile: between the lower edge of the slot
    holding the ceil(q*n)-th smallest value and the upper edge of the slot holding the next
    one (the exact percentile_cont lies between those order statistics too)."""
    if not values:
        return estimate is None
    ordered = sorted(values)
    rank = max(1, math.ceil(round(fraction * len(ordered), 9)))

    def slot(value: float) -> int:
        return max(bisect_right(edges, value), 1)

    low = edges[slot(ordered[rank - 1]) - 1]
    upper_slot = slot(ordered[min(rank, len(ordered) - 1)])
    high = edges[upper_slot] if upper_slot < len(edges) else edges[-1]
    return estimate is not None and low - 1e-6 <= estimate <= high + 1e-6


def _counts(row: LocationPerformance) -> tuple[object, ...]:
    return (row.bucket, row.location, row.stays_count, row.completed_count, row.in_progress_count)


def _ranges() -> list[tuple[datetime, datetime]]:
    """Whole days, a partial first day, partial days at both ends, less than a day."""
    return [
        (T0 - timedelta(days=3), T0 + timedelta(days=3)),
        (at(1), T0 + timedelta(days=3)),
        (at(-30), at(0.5) + timedelta(days=2)),
        (at(0.05), at(1.1)),
    ]


async def test_histogram_percentiles_from_the_daily_aggregates(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    data = await _load(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)
    reader = ReadRepository(storage_pool)
    arrivals = [
        (at(hour + i / 100), dwell * 3600)
        for hour, dwells in data.items()
        for i, dwell in enumerate(dwells)
    ]

    for start, end in _ranges():
        seconds = [d for arrived, d in arrivals if start <= arrived < end]
        for granularity in (Granularity.DAY, Granularity.WEEK):
            exact = await reader.locations_performance(start, end, granularity, LOCATION)
            approx = await reader.locations_performance(
                start, end, granularity, LOCATION, Percentiles.HISTOGRAM
            )
            assert [_counts(r) for r in approx] == [_counts(r) for r in exact], (start, end)
            for row, same in zip(approx, exact, strict=True):
                assert row.dwell_mean_seconds == pytest.approx(same.dwell_mean_seconds, rel=1e-12)
                assert row.dwell_mean_seconds == pytest.approx(statistics.fmean(seconds), abs=1)
                for fraction, value in (
                    (0.5, row.dwell_median_seconds),
                    (0.9, row.dwell_p90_seconds),
                ):
                    assert within_histogram_bound(value, seconds, fraction, DURATION_EDGES)

        (crossing,) = await reader.crossing_performance(
            start, end, BORDER, percentiles=Percentiles.HISTOGRAM
        )
        assert crossing.completed_count == len(seconds)
        assert crossing.tfi1_mean_seconds == pytest.approx(statistics.fmean(seconds), abs=1)
        assert within_histogram_bound(crossing.tfi1_median_seconds, seconds, 0.5, DURATION_EDGES)
        assert within_histogram_bound(crossing.tfi1_p90_seconds, seconds, 0.9, DURATION_EDGES)


async def test_histogram_leg_medians_from_leg_time_daily(storage_pool: Pool) -> None:
    data = await _load(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)
    reader = ReadRepository(storage_pool)
    departures = [
        (at(hour + i / 100 - 1), 60.0 * (1 + i % 3))
        for hour, dwells in data.items()
        for i in range(len(dwells))
    ]

    for start, end in [(T0 - timedelta(days=2), T0 + timedelta(days=2)), (at(-0.5), at(3))]:
        speeds = [v for departed, v in departures if start <= departed < end]
        exact = await reader.leg_performance(start, end, "CN-KHORGOS")
        (legs,) = await reader.leg_performance(
            start, end, "CN-KHORGOS", percentiles=Percentiles.HISTOGRAM
        )
        assert legs.legs_count == exact[0].legs_count == len(speeds)
        assert within_histogram_bound(legs.travel_median_seconds, [3600.0], 0.5, DURATION_EDGES)
        assert within_histogram_bound(legs.swod_median_kmh, speeds, 0.5, SPEED_EDGES)
        with_delay = [v / 2 for v in speeds]  # one hour of origin dwell per hour of travel
        assert exact[0].swd_median_kmh == pytest.approx(statistics.median(with_delay))
        assert within_histogram_bound(legs.swd_median_kmh, with_delay, 0.5, SPEED_EDGES)


OTHER_LOCATION = "GE-POTI"


def week_stays() -> list[Stay]:
    """Stays over seven calendar weeks around T0 (a Monday), at two locations, by road and
    by rail (two rows per location and week in the aggregates), some still open."""
    rng = random.Random(11)
    stays = []
    for i in range(240):
        arrived = rng.uniform(-24 * 17, 24 * 24)  # hours from T0
        departed = None if i % 23 == 0 else arrived + rng.lognormvariate(2.5, 1.1)
        location = LOCATION if i % 3 else OTHER_LOCATION
        stays.append(make_stay(f"S-{i}", location, arrived, departed))
    return stays


async def _load_weeks(pool: Pool, stays: Sequence[Stay] | None = None) -> list[Stay]:
    stays = list(stays if stays is not None else week_stays())
    timelines = []
    for stay in stays:
        hours = (stay.arrived_at - T0).total_seconds() / 3600
        mode = (TransportMode.ROAD, TransportMode.RAIL)[int(stay.consignment_id[2:]) % 2]
        events = [
            make_event(stay.consignment_id, EventType.GATE_ARRIVED, stay.location, hours, mode=mode)
        ]
        if stay.departed_at is not None:
            departed = (stay.departed_at - T0).total_seconds() / 3600
            events.append(
                make_event(stay.consignment_id, EventType.GATE_DEPARTED, stay.location, departed)
            )
        timelines.append(make_timeline(stay.consignment_id, events, [stay]))
    await WriteRepository(pool).upsert_timelines(timelines)
    return stays


def _slot(seconds: float) -> int:
    """kpi_histogram_bucket, 0-based."""
    return max(bisect_right(DURATION_EDGES, seconds), 1) - 1


async def test_weekly_buckets_over_whole_weeks_agree_with_exact_and_histogram(
    storage_pool: Pool,
) -> None:
    stays = await _load_weeks(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)
    reader = ReadRepository(storage_pool)
    ranges = [
        (T0 - timedelta(weeks=2), T0 + timedelta(weeks=3)),  # whole weeks only
        (at(-24 * 9 - 5.5), at(24 * 20 + 7.25)),  # Thursday noon-ish to a Monday morning
        (T0 - timedelta(days=2), T0 + timedelta(days=12)),  # whole days, one whole week
        (at(-24 * 16), at(24 * 23.5)),  # everything, a partial last day
    ]

    for start, end in ranges:
        approx = await reader.locations_performance(
            start, end, Granularity.WEEK, percentiles=Percentiles.HISTOGRAM
        )
        exact = await reader.locations_performance(start, end, Granularity.WEEK)
        assert [_counts(r) for r in approx] == [_counts(r) for r in exact], (start, end)
        for row, same in zip(approx, exact, strict=True):
            assert row.dwell_mean_seconds == pytest.approx(same.dwell_mean_seconds, rel=1e-12)
            dwells = [
                float(s.dwell_seconds)
                for s in stays
                if s.location == row.location
                and s.dwell_seconds is not None
                and start <= s.arrived_at < end
                and row.bucket <= s.arrived_at < row.bucket + timedelta(weeks=1)
            ]
            histogram = [0] * len(DURATION_EDGES)
            for dwell in dwells:
                histogram[_slot(dwell)] += 1
            # The same histogram as the daily path adds up, hence the same numbers.
            assert row.dwell_median_seconds == histogram_percentile(histogram, 0.5)
            assert row.dwell_p90_seconds == histogram_percentile(histogram, 0.9)
            assert within_histogram_bound(row.dwell_median_seconds, dwells, 0.5, DURATION_EDGES)


async def test_whole_weeks_are_read_from_the_weekly_rollup(storage_pool: Pool) -> None:
    """So it must be refreshed after the daily aggregate (storage.kpi_refresh)."""
    stays = await _load_weeks(storage_pool)
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)
    reader = ReadRepository(storage_pool)
    start, end = T0 - timedelta(weeks=1), T0 + timedelta(weeks=1)

    async def counts(granularity: Granularity) -> list[tuple[datetime, int]]:
        rows = await reader.locations_performance(
            start, end, granularity, LOCATION, Percentiles.HISTOGRAM
        )
        return [(r.bucket, r.stays_count) for r in rows]

    weeks_before, days_before = await counts(Granularity.WEEK), await counts(Granularity.DAY)
    tuesday = T0 + timedelta(days=1)
    await _load_weeks(storage_pool, [*stays, make_stay("S-9001", LOCATION, 30.0, 40.0)])
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await conn.execute("REFRESH MATERIALIZED VIEW location_dwell_daily")

    # Day buckets see the new stay; the whole week is still the roll-up's, not refreshed.
    days_after = dict(await counts(Granularity.DAY))
    assert days_after[tuesday] == dict(days_before).get(tuesday, 0) + 1
    assert await counts(Granularity.WEEK) == weeks_before
    async with storage_pool.connection() as conn:
        await conn.set_autocommit(True)
        await refresh_kpi_views(conn)
    assert await counts(Granularity.WEEK) == [
        (bucket, count + (bucket == T0)) for bucket, count in weeks_before
    ]


async def test_hourly_buckets_need_exact_percentiles(storage_pool: Pool) -> None:
    with pytest.raises(ValueError, match="hourly"):
        await ReadRepository(storage_pool).locations_performance(
            T0, at(5), Granularity.HOUR, percentiles=Percentiles.HISTOGRAM
        )


def test_python_histogram_percentile_is_the_sql_one(fresh_database_url: str) -> None:
    rng = random.Random(3)
    histograms = [[rng.choice((0, 0, 1, 5, 40)) for _ in DURATION_EDGES] for _ in range(50)]
    slots = len(DURATION_EDGES)
    histograms += [[0] * slots, [0] * (slots - 1) + [3], [2] + [0] * (slots - 1), [1] * slots]
    with psycopg.connect(fresh_database_url) as conn:
        edges = conn.execute("SELECT kpi_histogram_edges(), kpi_speed_histogram_edges()").fetchone()
        assert edges == (DURATION_EDGES, SPEED_EDGES)
        assert edges == (list(DURATION_EDGES_SECONDS), list(SPEED_EDGES_KMH))
        for histogram in histograms:
            for fraction in (0.5, 0.9):
                sql_values = conn.execute(
                    "SELECT kpi_histogram_percentile(%(h)s::bigint[], %(f)s),"
                    " kpi_histogram_percentile(%(h)s::bigint[], %(f)s,"
                    " kpi_speed_histogram_edges())",
                    {"h": histogram, "f": fraction},
                ).fetchone()
                assert sql_values == (
                    pytest.approx(histogram_percentile(histogram, fraction)),
                    pytest.approx(histogram_percentile(histogram, fraction, SPEED_EDGES_KMH)),
                )
            assert histogram_percentiles(histogram, (0.5, 0.9)) == [
                histogram_percentile(histogram, 0.5),
                histogram_percentile(histogram, 0.9),
            ]
