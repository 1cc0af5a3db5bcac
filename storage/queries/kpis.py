"""Corridor KPI reads: dwell per location, TFI1 per border and direction, legs.

``Percentiles.EXACT`` reads the base tables: nearest-rank percentiles
(``percentile_disc``) over every row of the range. ``Percentiles.SKETCH`` reads the
rollups of migration 0012 for the range's whole UTC days (whole weeks for weekly location
buckets) and the base tables for the rest: weekly location buckets stay exact (the weekly
rollup holds each week's own percentiles; partial weeks come from ``stays``), every other
median and p90 is the nearest rank of the merged daily sketches, within 1 %
(``corridor.sketch``). Counts and means are exact on every path.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from corridor.sketch import Sketch
from storage.db import Pool
from storage.views import (
    CrossingPerformance,
    Granularity,
    LegPerformance,
    LocationPerformance,
    Percentiles,
    RollupStatus,
)

Row = tuple[Any, ...]
# The f-strings below only splice in this module's own constant SQL fragments (S608).

# A stay or leg a plausibility rule voided (docs/domain.md) is left out and counted apart.
_COMPLETED_DWELL = "status = 'completed' AND dwell_seconds IS NOT NULL AND NOT implausible"
_COMPLETED_TFI1 = "status = 'completed' AND tfi1_seconds IS NOT NULL"
_LOCATION_FILTER = "(%(location)s::text IS NULL OR location = %(location)s)"
_BORDER_FILTER = "(%(border)s::text IS NULL OR border_id = %(border)s)"
_LEG_FILTER = """(%(from)s::text IS NULL OR from_location = %(from)s)
      AND (%(to)s::text IS NULL OR to_location = %(to)s)"""


def _exact(value: str, where: str = "true") -> str:
    """Nearest-rank median and p90 of ``value`` over the rows matching ``where``."""
    return ", ".join(
        f"(percentile_disc({q}) WITHIN GROUP (ORDER BY {value}) FILTER (WHERE {where}))"
        "::double precision"
        for q in (0.5, 0.9)
    )


def _sketch(value: str, where: str = "true") -> str:
    """The sketch (keys, counts) of ``value`` over the rows matching ``where``, as 0012."""
    keys = f"array_agg(kpi_sketch_key({value})) FILTER (WHERE {where})"
    return f"kpi_sketch_keys({keys}), kpi_sketch_counts({keys})"


def _dwell_figures() -> str:
    return f"""count(*), count(*) FILTER (WHERE {_COMPLETED_DWELL}),
       count(*) FILTER (WHERE status = 'in_progress'),
       avg(dwell_seconds::double precision) FILTER (WHERE {_COMPLETED_DWELL}),
       {_exact("dwell_seconds", _COMPLETED_DWELL)},
       count(*) FILTER (WHERE implausible)"""


_LOCATIONS_EXACT = f"""
SELECT date_trunc(%(unit)s, arrived_at, 'UTC') AS bucket, location, {_dwell_figures()}
FROM stays
WHERE arrived_at >= %(start)s AND arrived_at < %(end)s AND {_LOCATION_FILTER}
GROUP BY 2, 1 ORDER BY 2, 1
"""  # noqa: S608
# Whole weeks from the weekly rollup as they are; the partial weeks at the range's ends
# from stays (at most six days each side).
_LOCATIONS_BY_WEEK = f"""
SELECT bucket, location, stays_count, completed_count, in_progress_count,
       dwell_mean_seconds, dwell_median_seconds, dwell_p90_seconds, excluded_count
FROM location_dwell_weekly
WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s AND {_LOCATION_FILTER}
UNION ALL
SELECT date_trunc('week', arrived_at, 'UTC'), location, {_dwell_figures()}
FROM stays
WHERE %(fringe)s AND ((arrived_at >= %(start)s AND arrived_at < %(whole_start)s)
                      OR (arrived_at >= %(whole_end)s AND arrived_at < %(end)s))
  AND {_LOCATION_FILTER}
GROUP BY 1, 2
ORDER BY 2, 1
"""  # noqa: S608


def _merged(parts: str, keys: str, totals: str, sketches: Sequence[str]) -> str:
    """Rows of ``parts`` added up per ``keys`` (NOT NULL columns): ``totals`` (aggregates
    over parts), then per sketch name its merged keys and counts (ascending keys; NULL
    when it has none)."""
    merges = [
        f"""LEFT JOIN (
    SELECT {keys}, array_agg(k ORDER BY k) AS {name}_keys, array_agg(n ORDER BY k) AS {name}_counts
    FROM (SELECT {keys}, u.k, sum(u.n)::bigint AS n
          FROM parts, unnest({name}_sketch_keys, {name}_sketch_counts) AS u(k, n)
          GROUP BY {keys}, u.k) AS per_key
    GROUP BY {keys}) AS {name} USING ({keys})"""  # noqa: S608
        for name in sketches
    ]
    columns = ", ".join(f"{name}_keys, {name}_counts" for name in sketches)
    return f"""
WITH parts AS ({parts}),
totals AS (SELECT {keys}, {totals} FROM parts GROUP BY {keys})
SELECT totals.*, {columns}
FROM totals
{" ".join(merges)}
ORDER BY {keys}
"""  # noqa: S608


# Day buckets: whole days from location_dwell_daily, partial end days from stays.
_LOCATIONS_BY_DAY = _merged(
    f"""
    SELECT location, bucket, stays_count, completed_count, in_progress_count,
           dwell_sum_seconds, excluded_count, dwell_sketch_keys, dwell_sketch_counts
    FROM location_dwell_daily
    WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s AND {_LOCATION_FILTER}
    UNION ALL
    SELECT location, date_trunc('day', arrived_at, 'UTC'), count(*),
           count(*) FILTER (WHERE {_COMPLETED_DWELL}),
           count(*) FILTER (WHERE status = 'in_progress'),
           sum(dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL}),
           count(*) FILTER (WHERE implausible),
           {_sketch("dwell_seconds", _COMPLETED_DWELL)}
    FROM stays
    WHERE %(fringe)s AND ((arrived_at >= %(start)s AND arrived_at < %(whole_start)s)
                          OR (arrived_at >= %(whole_end)s AND arrived_at < %(end)s))
      AND {_LOCATION_FILTER}
    GROUP BY 1, 2""",  # noqa: S608
    "location, bucket",
    "sum(stays_count)::bigint, sum(completed_count)::bigint, sum(in_progress_count)::bigint,"
    " sum(dwell_sum_seconds)::double precision / nullif(sum(completed_count), 0),"
    " sum(excluded_count)::bigint",
    ("dwell",),
)
_CROSSINGS_EXACT = f"""
SELECT border_id, direction,
       count(*) FILTER (WHERE {_COMPLETED_TFI1}),
       count(*) FILTER (WHERE status = 'in_progress'),
       avg(tfi1_seconds::double precision) FILTER (WHERE {_COMPLETED_TFI1}),
       {_exact("tfi1_seconds", _COMPLETED_TFI1)}
FROM crossings
WHERE arrived_at >= %(start)s AND arrived_at < %(end)s AND {_BORDER_FILTER}
GROUP BY border_id, direction ORDER BY border_id, direction
"""  # noqa: S608
_CROSSINGS_FROM_ROLLUPS = _merged(
    f"""
    SELECT border_id, direction, completed_count, in_progress_count, tfi1_sum_seconds,
           tfi1_sketch_keys, tfi1_sketch_counts
    FROM crossing_time_daily
    WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s AND {_BORDER_FILTER}
    UNION ALL
    SELECT border_id, direction, count(*) FILTER (WHERE {_COMPLETED_TFI1}),
           count(*) FILTER (WHERE status = 'in_progress'),
           sum(tfi1_seconds) FILTER (WHERE {_COMPLETED_TFI1}),
           {_sketch("tfi1_seconds", _COMPLETED_TFI1)}
    FROM crossings
    WHERE %(fringe)s AND ((arrived_at >= %(start)s AND arrived_at < %(whole_start)s)
                          OR (arrived_at >= %(whole_end)s AND arrived_at < %(end)s))
      AND {_BORDER_FILTER}
    GROUP BY 1, 2""",  # noqa: S608
    "border_id, direction",
    "sum(completed_count)::bigint, sum(in_progress_count)::bigint,"
    " sum(tfi1_sum_seconds)::double precision / nullif(sum(completed_count), 0)",
    ("tfi1",),
)
_LEGS_EXACT = f"""
SELECT from_location, to_location, mode, count(*) FILTER (WHERE NOT implausible),
       (percentile_disc(0.5) WITHIN GROUP (ORDER BY travel_seconds)
            FILTER (WHERE NOT implausible))::double precision,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY swod_kmh) FILTER (WHERE NOT implausible),
       percentile_disc(0.5) WITHIN GROUP (ORDER BY swd_kmh) FILTER (WHERE NOT implausible),
       count(*) FILTER (WHERE implausible)
FROM legs
WHERE departed_at >= %(start)s AND departed_at < %(end)s AND {_LEG_FILTER}
GROUP BY from_location, to_location, mode ORDER BY from_location, to_location, mode
"""  # noqa: S608
_LEGS_FROM_ROLLUPS = _merged(
    f"""
    SELECT from_location, to_location, mode, legs_count, excluded_count, travel_sketch_keys,
           travel_sketch_counts, swod_sketch_keys, swod_sketch_counts, swd_sketch_keys,
           swd_sketch_counts
    FROM leg_time_daily
    WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s AND {_LEG_FILTER}
    UNION ALL
    SELECT from_location, to_location, mode, count(*) FILTER (WHERE NOT implausible),
           count(*) FILTER (WHERE implausible),
           {_sketch("travel_seconds", "NOT implausible")},
           {_sketch("swod_kmh", "swod_kmh IS NOT NULL AND NOT implausible")},
           {_sketch("swd_kmh", "swd_kmh IS NOT NULL AND NOT implausible")}
    FROM legs
    WHERE %(fringe)s AND ((departed_at >= %(start)s AND departed_at < %(whole_start)s)
                          OR (departed_at >= %(whole_end)s AND departed_at < %(end)s))
      AND {_LEG_FILTER}
    GROUP BY 1, 2, 3""",  # noqa: S608
    "from_location, to_location, mode",
    "sum(legs_count)::bigint, sum(excluded_count)::bigint",
    ("travel", "swod", "swd"),
)
_ROLLUP_STATUS = """
SELECT rollup, refreshed_at, attempted_at, consecutive_failures, last_error
FROM kpi_rollup_status ORDER BY rollup
"""
_A_MONDAY = datetime(2000, 1, 3, tzinfo=UTC)


class KpiQueries:
    """The KPI half of ``services.api.ports.ApiReads``, on PostgreSQL or TimescaleDB."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def locations_performance(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LocationPerformance, ...]:
        """Per location and bucket of arrival time in [start, end): stays, completed, in
        progress, mean, median and p90 dwell of the completed ones. SKETCH needs day or
        week buckets (there are no sketches per hour)."""
        params: dict[str, Any] = {
            "unit": granularity.value,
            "location": location,
            "start": start,
            "end": end,
        }
        if percentiles is Percentiles.EXACT:
            rows = await self._rows(_LOCATIONS_EXACT, params)
            return tuple(LocationPerformance(*row) for row in rows)
        if granularity is Granularity.HOUR:
            raise ValueError("hourly buckets are answered exactly, not from the rollups")
        if granularity is Granularity.WEEK:
            rows = await self._rows(_LOCATIONS_BY_WEEK, params | whole_weeks(start, end))
            return tuple(LocationPerformance(*row) for row in rows)
        rows = await self._rows(_LOCATIONS_BY_DAY, params | whole_days(start, end))
        return tuple(_location_from_rollups(row) for row in rows)

    async def crossing_performance(
        self,
        start: datetime,
        end: datetime,
        border_id: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[CrossingPerformance, ...]:
        """TFI1 per border and direction for crossings that started in [start, end)."""
        params = {"start": start, "end": end, "border": border_id}
        if percentiles is Percentiles.EXACT:
            return tuple(
                CrossingPerformance(*row) for row in await self._rows(_CROSSINGS_EXACT, params)
            )
        rows = await self._rows(_CROSSINGS_FROM_ROLLUPS, params | whole_days(start, end))
        return tuple(
            CrossingPerformance(*row[:5], *_quantiles(row[5], row[6], 0.5, 0.9)) for row in rows
        )

    async def leg_performance(
        self,
        start: datetime,
        end: datetime,
        from_location: str | None = None,
        to_location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LegPerformance, ...]:
        """Per leg and mode departed in [start, end): count, median travel, SWOD, SWD."""
        params = {"start": start, "end": end, "from": from_location, "to": to_location}
        if percentiles is Percentiles.EXACT:
            return tuple(LegPerformance(*row) for row in await self._rows(_LEGS_EXACT, params))
        rows = await self._rows(_LEGS_FROM_ROLLUPS, params | whole_days(start, end))
        return tuple(_leg_from_rollups(row) for row in rows)

    async def rollup_status(self) -> tuple[RollupStatus, ...]:
        """Each rollup's last complete refresh and its run of failures since."""
        return tuple(RollupStatus(*row) for row in await self._rows(_ROLLUP_STATUS, {}))

    async def _rows(self, query: str, params: dict[str, Any]) -> list[Row]:
        async with self._pool.connection() as conn:
            return await _all(conn, query, params)


def whole_days(start: datetime, end: datetime) -> dict[str, Any]:
    """The UTC days wholly inside [start, end), as ``whole_start``/``whole_end``; an
    empty span at ``end`` when there are none (the base tables then answer it all).
    ``fringe``: whether any of [start, end) lies outside them."""
    first = start.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(days=1)
    last = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if first >= last:
        first = last = end
    return {"whole_start": first, "whole_end": last, "fringe": start < first or last < end}


def whole_weeks(start: datetime, end: datetime) -> dict[str, Any]:
    """``whole_days`` for weeks from Monday 00:00 UTC."""
    days = whole_days(start, end)
    first, last = days["whole_start"], days["whole_end"]
    first += timedelta(days=-(first - _A_MONDAY).days % 7)
    last -= timedelta(days=(last - _A_MONDAY).days % 7)
    if first >= last:
        first = last = end
    return {"whole_start": first, "whole_end": last, "fringe": start < first or last < end}


def _location_from_rollups(row: Row) -> LocationPerformance:
    """location, bucket, counts, mean, excluded, then the merged dwell sketch."""
    median, p90 = _quantiles(row[7], row[8], 0.5, 0.9)
    return LocationPerformance(
        row[1], row[0], row[2], row[3], row[4], row[5], median, p90, excluded_count=row[6]
    )


def _leg_from_rollups(row: Row) -> LegPerformance:
    """from, to, mode, legs, excluded, then the travel, SWOD and SWD sketches."""
    (travel,) = _quantiles(row[5], row[6], 0.5)
    (swod,) = _quantiles(row[7], row[8], 0.5)
    (swd,) = _quantiles(row[9], row[10], 0.5)
    return LegPerformance(row[0], row[1], row[2], row[3], travel, swod, swd, row[4])


def _quantiles(
    keys: Sequence[int] | None, counts: Sequence[int] | None, *fractions: float
) -> list[float | None]:
    sketch = Sketch.from_arrays(keys, counts)
    return [sketch.quantile(q) for q in fractions]


async def _all(conn: AsyncConnection[TupleRow], query: str, params: dict[str, Any]) -> list[Row]:
    cursor = await conn.execute(query, params, binary=True)
    return await cursor.fetchall()
