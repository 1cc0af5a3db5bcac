"""KPI rollups and reads against a hand-made data set with independently computed stats,
on whichever backend the test server runs (plain PostgreSQL or TimescaleDB)."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import astuple
from datetime import datetime, timedelta

import psycopg
import pytest
from psycopg import AsyncConnection

from corridor.events import EventType, TransportMode
from corridor.journey import Crossing, Leg, Stay
from corridor.sketch import Sketch
from storage.db import Pool
from storage.kpi_refresh import REFRESH_ORDER, refresh_kpi_views
from storage.reads import ReadRepository
from storage.views import Granularity, LocationPerformance, Percentiles
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import T0, at, make_event, make_stay, make_timeline

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

LOCATION = "KZ-NUR-ZHOLY"
OTHER_LOCATION = "GE-POTI"
BORDER = "khorgos-nur-zholy"
WITHIN = 0.01  # the sketch's documented bound


def nearest_rank(values: Sequence[float], fraction: float) -> float | None:
    """The project's quantile definition, written out independently: the value at rank
    ceil(q·n) (at least 1) of the sorted values."""
    if not values:
        return None
    return sorted(values)[max(1, math.ceil(fraction * len(values))) - 1]


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


async def _refresh(pool: Pool) -> tuple[str, ...]:
    async with pool.connection() as conn:
        await conn.set_autocommit(True)
        return await refresh_kpi_views(conn)


async def test_location_performance_exact_median_and_p90(storage_pool: Pool) -> None:
    data = await _load(storage_pool)
    rows = await ReadRepository(storage_pool).locations_performance(
        T0, T0 + timedelta(days=1), Granularity.HOUR, LOCATION
    )

    assert [r.bucket for r in rows] == [at(0), at(1)]
    for row, hour in zip(rows, (0, 1), strict=True):
        seconds = [d * 3600 for d in data[hour]]
        assert row.completed_count == len(seconds)
        assert row.in_progress_count == (3 if hour == 0 else 0)
        assert row.dwell_median_seconds == pytest.approx(nearest_rank(seconds, 0.5), abs=1)
        assert row.dwell_p90_seconds == pytest.approx(nearest_rank(seconds, 0.9), abs=1)
        assert row.dwell_mean_seconds == pytest.approx(statistics.fmean(seconds), abs=1)

    daily = await ReadRepository(storage_pool).locations_performance(
        T0, T0 + timedelta(days=1), Granularity.DAY, LOCATION
    )
    everything = [d * 3600 for hour in (0, 1) for d in data[hour]]
    assert daily[0].dwell_p90_seconds == pytest.approx(nearest_rank(everything, 0.9), abs=1)


async def test_crossing_and_leg_performance(storage_pool: Pool) -> None:
    data = await _load(storage_pool)
    reader = ReadRepository(storage_pool)
    end = T0 + timedelta(days=2)

    (crossing,) = await reader.crossing_performance(T0, end, border_id=BORDER)
    tfi1 = [d * 3600 for hour in (0, 1) for d in data[hour]]
    assert (crossing.direction, crossing.completed_count) == ("CN->KZ", len(tfi1))
    assert crossing.tfi1_median_seconds == pytest.approx(nearest_rank(tfi1, 0.5), abs=1)
    assert crossing.tfi1_p90_seconds == pytest.approx(nearest_rank(tfi1, 0.9), abs=1)

    (legs,) = await reader.leg_performance(T0 - timedelta(days=1), end, "CN-KHORGOS")
    speeds = [60.0 * (1 + i % 3) for hour in (0, 1) for i in range(len(data[hour]))]
    assert legs.legs_count == len(speeds)
    assert legs.travel_median_seconds == 3600
    assert legs.swod_median_kmh == pytest.approx(nearest_rank(speeds, 0.5))


async def test_rollups_after_refresh(storage_pool: Pool, fresh_database_url: str) -> None:
    data = await _load(storage_pool)
    assert await _refresh(storage_pool) == REFRESH_ORDER
    assert await _refresh(storage_pool) == REFRESH_ORDER  # concurrently now
    with psycopg.connect(fresh_database_url) as conn:
        stored = conn.execute(
            "SELECT arrived_at, dwell_seconds FROM stays WHERE dwell_seconds IS NOT NULL"
        ).fetchall()
        hourly = conn.execute(
            "SELECT completed_count, dwell_median_seconds, dwell_p90_seconds"
            " FROM location_dwell_hourly WHERE location = %s AND completed_count > 0"
            " ORDER BY bucket",
            (LOCATION,),
        ).fetchall()
        daily = conn.execute(
            "SELECT completed_count, dwell_median_seconds, dwell_sketch_keys,"
            " dwell_sketch_counts FROM location_dwell_daily"
            " WHERE location = %s AND completed_count > 0",
            (LOCATION,),
        ).fetchall()
        waiting = conn.execute(
            "SELECT sum(in_progress_count) FROM location_dwell_daily WHERE location = %s",
            (LOCATION,),
        ).fetchone()
        weekly = conn.execute(
            "SELECT bucket, stays_count, dwell_median_seconds, dwell_p90_seconds"
            " FROM location_dwell_weekly WHERE location = %s",
            (LOCATION,),
        ).fetchall()
    everything = [seconds for _, seconds in stored]
    for (completed, median, p90), hour in zip(hourly, (0, 1), strict=True):
        seconds = [dwell for arrived, dwell in stored if arrived.hour == hour]
        assert len(seconds) == len(data[hour])
        assert (completed, median, p90) == (
            len(seconds),
            nearest_rank(seconds, 0.5),
            nearest_rank(seconds, 0.9),
        )
    ((completed, median, keys, counts),) = daily
    assert (completed, median) == (len(everything), nearest_rank(everything, 0.5))
    assert waiting == (3,)
    # The stored sketch is the Python one of the same values, key for key.
    assert dict(zip(keys, counts, strict=True)) == Sketch.of(everything).counts
    assert weekly == [
        (T0, len(everything) + 3, nearest_rank(everything, 0.5), nearest_rank(everything, 0.9))
    ]


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


def week_stays(count: int = 240) -> list[Stay]:
    """Stays over seven calendar weeks around T0 (a Monday), at two locations, by road and
    by rail (two rows per location and day in the daily rollup), some still open; dwell
    from minutes to weeks."""
    rng = random.Random(11)
    stays = []
    for i in range(count):
        arrived = rng.uniform(-24 * 17, 24 * 24)  # hours from T0
        departed = None if i % 23 == 0 else arrived + rng.lognormvariate(2.5, 1.4)
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


def _counts(row: LocationPerformance) -> tuple[object, ...]:
    return (
        row.bucket,
        row.location,
        row.stays_count,
        row.completed_count,
        row.in_progress_count,
        round(row.dwell_mean_seconds or 0, 6),
    )


def _ranges() -> list[tuple[datetime, datetime]]:
    """Whole days and weeks, partial days at either or both ends, less than a day, and
    the whole data set inside a long range."""
    return [
        (T0 - timedelta(days=21), T0 + timedelta(days=21)),
        (at(1), T0 + timedelta(days=10)),
        (at(-30), at(0.5) + timedelta(days=9)),
        (at(0.05), at(1.1)),
        (at(-24 * 20 - 5), at(24 * 30 + 7)),
        (T0 - timedelta(days=200), T0 + timedelta(days=165)),
    ]


async def test_rollup_answers_match_exact_ones_within_one_percent(storage_pool: Pool) -> None:
    """For every range and bucket: counts and means equal, weekly percentiles equal, every
    other median and p90 within 1 % of the exact one."""
    await _load_weeks(storage_pool)
    await _load(storage_pool)
    await _refresh(storage_pool)
    reader = ReadRepository(storage_pool)
    for start, end in _ranges():
        for granularity in (Granularity.DAY, Granularity.WEEK):
            exact = await reader.locations_performance(start, end, granularity)
            rolled = await reader.locations_performance(
                start, end, granularity, percentiles=Percentiles.SKETCH
            )
            assert [_counts(r) for r in rolled] == [_counts(r) for r in exact]
            for got, want in zip(rolled, exact, strict=True):
                if granularity is Granularity.WEEK:
                    assert got == pytest.approx(want), (start, end)
                    continue
                for value, truth in (
                    (got.dwell_median_seconds, want.dwell_median_seconds),
                    (got.dwell_p90_seconds, want.dwell_p90_seconds),
                ):
                    assert value == (None if truth is None else pytest.approx(truth, rel=WITHIN))
        exact_crossings = await reader.crossing_performance(start, end, BORDER)
        sketch_crossings = await reader.crossing_performance(
            start, end, BORDER, percentiles=Percentiles.SKETCH
        )
        assert [astuple(c)[:4] for c in sketch_crossings] == [
            astuple(c)[:4] for c in exact_crossings
        ]
        for got_c, want_c in zip(sketch_crossings, exact_crossings, strict=True):
            assert got_c.tfi1_median_seconds == pytest.approx(
                want_c.tfi1_median_seconds, rel=WITHIN
            )
            assert got_c.tfi1_p90_seconds == pytest.approx(want_c.tfi1_p90_seconds, rel=WITHIN)
        exact_legs = await reader.leg_performance(start, end)
        sketch_legs = await reader.leg_performance(start, end, percentiles=Percentiles.SKETCH)
        assert [astuple(x)[:4] for x in sketch_legs] == [astuple(x)[:4] for x in exact_legs]
        for got_l, want_l in zip(sketch_legs, exact_legs, strict=True):
            assert astuple(got_l)[4:] == pytest.approx(astuple(want_l)[4:], rel=WITHIN)


async def test_the_same_week_through_28_days_and_16_weeks(storage_pool: Pool) -> None:
    """The operator's check: a week's median and p90 asked through a 28-day range (exact,
    base tables) and a 16-week range (rollups) agree within 1 % (here: exactly)."""
    await _load_weeks(storage_pool, week_stays(600))
    await _refresh(storage_pool)
    reader = ReadRepository(storage_pool)
    month = await reader.locations_performance(
        T0 - timedelta(weeks=2), T0 + timedelta(weeks=2), Granularity.WEEK
    )
    season = await reader.locations_performance(
        T0 - timedelta(weeks=8),
        T0 + timedelta(weeks=8),
        Granularity.WEEK,
        percentiles=Percentiles.SKETCH,
    )
    by_week = {(r.location, r.bucket): r for r in season}
    assert len(month) == 8
    for row in month:
        other = by_week[(row.location, row.bucket)]
        assert other.stays_count == row.stays_count
        assert other.dwell_median_seconds == pytest.approx(row.dwell_median_seconds, rel=WITHIN)
        assert other.dwell_p90_seconds == pytest.approx(row.dwell_p90_seconds, rel=WITHIN)


async def test_a_late_stay_changes_its_own_bucket_once_refreshed(storage_pool: Pool) -> None:
    stays = await _load_weeks(storage_pool)
    await _refresh(storage_pool)
    reader = ReadRepository(storage_pool)
    start, end = T0 - timedelta(weeks=3), T0 + timedelta(weeks=3)

    async def counts(granularity: Granularity) -> dict[datetime, int]:
        rows = await reader.locations_performance(
            start, end, granularity, LOCATION, Percentiles.SKETCH
        )
        return {r.bucket: r.stays_count for r in rows}

    weeks_before, days_before = await counts(Granularity.WEEK), await counts(Granularity.DAY)
    tuesday = T0 + timedelta(days=1)
    await _load_weeks(storage_pool, [*stays, make_stay("S-9001", LOCATION, 30.0, 40.0)])
    # Not refreshed yet: the rollups still say what they said, on both backends.
    assert await counts(Granularity.WEEK) == weeks_before
    assert await counts(Granularity.DAY) == days_before
    await _refresh(storage_pool)
    assert await counts(Granularity.DAY) == days_before | {tuesday: days_before[tuesday] + 1}
    assert await counts(Granularity.WEEK) == weeks_before | {T0: weeks_before[T0] + 1}


async def test_hourly_buckets_are_never_read_from_the_rollups(storage_pool: Pool) -> None:
    with pytest.raises(ValueError, match="hourly"):
        await ReadRepository(storage_pool).locations_performance(
            T0, at(5), Granularity.HOUR, percentiles=Percentiles.SKETCH
        )


async def test_refreshes_record_as_of_and_failures(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    await _load(storage_pool)
    reader = ReadRepository(storage_pool)
    async with await AsyncConnection.connect(fresh_database_url, autocommit=True) as conn:
        before = (await (await conn.execute("SELECT now()")).fetchone() or (None,))[0]
        await refresh_kpi_views(conn)
        # Another session holds legs: the refresh of leg_time_daily fails, the others go on.
        async with await AsyncConnection.connect(fresh_database_url) as holder:
            await holder.execute("LOCK TABLE legs IN ACCESS EXCLUSIVE MODE")
            await conn.execute("SET lock_timeout = '200ms'")
            refreshed = await refresh_kpi_views(conn)
            await holder.rollback()
    assert "leg_time_daily" not in refreshed
    assert "location_dwell_daily" in refreshed
    statuses = {s.rollup: s for s in await reader.rollup_status()}
    legs = statuses["leg_time_daily"]
    assert legs.consecutive_failures == 1
    assert legs.last_error is not None
    assert "lock" in legs.last_error
    assert legs.refreshed_at is not None
    assert legs.refreshed_at >= before
    daily = statuses["location_dwell_daily"]
    assert daily.refreshed_at is not None
    assert daily.refreshed_at > legs.refreshed_at
