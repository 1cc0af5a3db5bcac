"""Read queries returning typed views (``storage.views``); plain SQL, no ORM.

Carrier scoping: pass ``carrier_id`` and a consignment of another carrier is answered
exactly like an unknown one (None), so an id cannot be probed across carriers.
KPI reads take ``Percentiles``: EXACT computes percentile_cont over the base tables;
HISTOGRAM answers from the daily aggregates (``location_dwell_daily``,
``crossing_time_daily``, ``leg_time_daily``) for the whole UTC days of the range and from
the base tables for the partial days at its ends — weekly dwell buckets from the weekly
roll-up (``location_dwell_weekly``) for the range's whole weeks: counts and means stay
exact, medians and p90s are interpolated in the summed fixed-edge histograms (docs/api.md).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import PoolTimeout

from corridor.events import TransitEvent
from corridor.journey import ConsignmentState, StayStatus
from storage.db import Pool
from storage.rows import normalize_permit_id, normalize_reference
from storage.tracking import EVENT_CLOCK
from storage.views import (
    AlertView,
    ApiKeyRole,
    ApiKeyView,
    ConsignmentFilter,
    ConsignmentKey,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingPerformance,
    CrossingView,
    Granularity,
    InProgressStayView,
    LegPerformance,
    LegView,
    LocationPerformance,
    LocationQueueView,
    Page,
    Percentiles,
    ReferencesView,
    StayView,
    TimelineView,
)

Row = tuple[Any, ...]

# The f-strings below only splice in this module's own constant SQL fragments (S608).

_CONSIGNMENT_COLUMNS = """
    consignment_id, carrier_id, state, current_location, first_event_at, last_event_at,
    event_count, route_id, declared_route, tir_carnet, mrn, permit_id, vehicle_plates,
    container_numbers, anomaly_count, updated_at
"""
_CONSIGNMENT = f"""
SELECT {_CONSIGNMENT_COLUMNS} FROM consignments
WHERE consignment_id = %(id)s AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
"""  # noqa: S608
_SEARCH = f"""
SELECT {_CONSIGNMENT_COLUMNS} FROM consignments
WHERE (consignment_id = %(raw)s OR tir_carnet = %(q)s OR mrn = %(q)s OR permit_id = %(permit)s
       OR vehicle_plates @> ARRAY[%(q)s]::text[] OR container_numbers @> ARRAY[%(q)s]::text[])
  AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
  AND (%(after_time)s::timestamptz IS NULL
       OR (last_event_at, consignment_id) < (%(after_time)s, %(after_id)s::text))
ORDER BY last_event_at DESC, consignment_id DESC
LIMIT %(limit)s
"""  # noqa: S608
_EVENTS = "SELECT payload FROM transit_events WHERE consignment_id = %s ORDER BY occurred_at"
_STAYS = """
SELECT consignment_id, location, visit, country, mode, direction, status, arrived_at,
       released_at, departed_at, inspection_started_at, inspection_completed_at, dwell_seconds,
       arrival_to_release_seconds, release_to_departure_seconds, inspection_seconds
FROM stays WHERE consignment_id = %s ORDER BY arrived_at, location, visit
"""
# Completed stays at a location that departed in [since, until). The arrival bound lets
# the (location, arrived_at) index, and TimescaleDB's chunks, narrow the scan; a stay
# longer than the window itself is too rare to move a percentile.
_RECENT_DWELLS = """
SELECT dwell_seconds FROM stays
WHERE location = %(location)s AND status = 'completed' AND dwell_seconds IS NOT NULL
  AND arrived_at >= %(since)s - (%(until)s - %(since)s) AND arrived_at < %(until)s
  AND departed_at >= %(since)s AND departed_at < %(until)s
"""
_CROSSINGS = """
SELECT consignment_id, border_id, from_location, to_location, direction, mode, arrived_at,
       departed_at, tfi1_seconds
FROM crossings WHERE consignment_id = %s ORDER BY arrived_at, border_id
"""
_LEGS = """
SELECT consignment_id, from_location, to_location, mode, departed_at, arrived_at, distance_km,
       travel_seconds, origin_dwell_seconds, swod_kmh, swd_kmh
FROM legs WHERE consignment_id = %s ORDER BY departed_at, from_location
"""
_IN_PROGRESS = """
SELECT consignment_id, carrier_id, location, visit, arrived_at, released_at,
       extract(epoch FROM coalesce(%(as_of)s::timestamptz, now()) - arrived_at)::bigint
FROM stays
WHERE status = 'in_progress' AND location = %(location)s
  AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
ORDER BY arrived_at, consignment_id
LIMIT %(limit)s
"""
_COMPLETED_DWELL = "status = 'completed' AND dwell_seconds IS NOT NULL"
_LOCATION_PERFORMANCE = f"""
SELECT date_trunc(%(unit)s, arrived_at, 'UTC') AS bucket, location, count(*),
       count(*) FILTER (WHERE {_COMPLETED_DWELL}),
       count(*) FILTER (WHERE status = 'in_progress'),
       avg(dwell_seconds::double precision) FILTER (WHERE {_COMPLETED_DWELL}),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL}),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL})
FROM stays
WHERE location = %(location)s AND arrived_at >= %(start)s AND arrived_at < %(end)s
GROUP BY 1, 2 ORDER BY 1
"""  # noqa: S608
_COMPLETED_TFI1 = "status = 'completed' AND tfi1_seconds IS NOT NULL"
_CROSSING_PERFORMANCE = f"""
SELECT border_id, direction,
       count(*) FILTER (WHERE {_COMPLETED_TFI1}),
       count(*) FILTER (WHERE status = 'in_progress'),
       avg(tfi1_seconds::double precision) FILTER (WHERE {_COMPLETED_TFI1}),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY tfi1_seconds) FILTER (WHERE {_COMPLETED_TFI1}),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY tfi1_seconds) FILTER (WHERE {_COMPLETED_TFI1})
FROM crossings
WHERE arrived_at >= %(start)s AND arrived_at < %(end)s
  AND (%(border)s::text IS NULL OR border_id = %(border)s)
GROUP BY border_id, direction ORDER BY border_id, direction
"""  # noqa: S608
_LEG_PERFORMANCE = """
SELECT from_location, to_location, mode, count(*),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY travel_seconds),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY swod_kmh),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY swd_kmh)
FROM legs
WHERE departed_at >= %(start)s AND departed_at < %(end)s
  AND (%(from)s::text IS NULL OR from_location = %(from)s)
  AND (%(to)s::text IS NULL OR to_location = %(to)s)
GROUP BY from_location, to_location, mode ORDER BY from_location, to_location, mode
"""
_ALERTS = """
SELECT id, kind, consignment_id, carrier_id, location, occurred_at, raised_at, detail
FROM alerts
WHERE raised_at >= %(since)s
  AND (%(location)s::text IS NULL OR location = %(location)s)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
  AND (%(after_id)s::bigint IS NULL OR id > %(after_id)s)
ORDER BY id
LIMIT %(limit)s
"""
_API_KEY = """
SELECT id, name, role, key_prefix, allowed_locations, carrier_id, created_at, revoked_at
FROM api_keys WHERE key_hash = %(hash)s AND (%(revoked)s OR revoked_at IS NULL)
"""

_ALL_LOCATIONS_PERFORMANCE = f"""
SELECT date_trunc(%(unit)s, arrived_at, 'UTC') AS bucket, location, count(*),
       count(*) FILTER (WHERE {_COMPLETED_DWELL}),
       count(*) FILTER (WHERE status = 'in_progress'),
       avg(dwell_seconds::double precision) FILTER (WHERE {_COMPLETED_DWELL}),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL}),
       percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL})
FROM stays
WHERE arrived_at >= %(start)s AND arrived_at < %(end)s
GROUP BY 2, 1 ORDER BY 2, 1
"""  # noqa: S608
# -- KPIs from the daily aggregates (Percentiles.HISTOGRAM) ---------------------------------
# Whole UTC days [whole_start, whole_end) come from a *_daily aggregate, the partial days at
# both ends of [start, end) from the base table with the same histogram made on the fly;
# counts, sums and histograms add up, and the percentiles are interpolated in the sum
# (here, by `histogram_percentile`: 2,500 calls of the plpgsql one cost ~17 ms).
# The lower edges of kpi_histogram_edges() (0003) and kpi_speed_histogram_edges() (0006).
DURATION_EDGES_SECONDS = (0, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200,
                          432000, 604800, 864000, 1209600)  # fmt: skip
SPEED_EDGES_KMH = (0, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 80)
_SLOTS = range(1, len(DURATION_EDGES_SECONDS) + 1)
# `fringe` is false when the range is whole days: a one-time filter then skips the scan
# (the BRIN index still visits a block range for an empty interval, ~1 ms on stays).
_FRINGE = """%(fringe)s AND (({t} >= %(start)s AND {t} < %(whole_start)s)
       OR ({t} >= %(whole_end)s AND {t} < %(end)s))"""
_IN_WHOLE_DAYS = "bucket >= %(whole_start)s AND bucket < %(whole_end)s"
# Days into day or week buckets: date_bin is plain arithmetic, ~10 ms cheaper over a year
# of daily rows than date_trunc(unit, day, 'UTC') (a time zone lookup per row).
_STRIDES = {Granularity.DAY: timedelta(days=1), Granularity.WEEK: timedelta(weeks=1)}
_A_MONDAY = datetime(2000, 1, 3, tzinfo=UTC)  # weeks start on Monday, as date_trunc's


def _histogram(condition: str, slot: str) -> str:
    """The 14-slot histogram of the rows matching ``condition``, ``slot`` their slot."""
    counts = (f"count(*) FILTER (WHERE {condition} AND {slot} = {i})" for i in _SLOTS)
    return f"ARRAY[{', '.join(counts)}]::bigint[]"


def _summed(column: str) -> str:
    """Element-wise sum of a histogram column (cheaper than kpi_histogram_sum); int4
    sums, as sums of bigint go through numeric (a day's slot count fits an int4)."""
    return f"ARRAY[{', '.join(f'sum({column}[{i}]::integer)' for i in _SLOTS)}]::bigint[]"


# Whole weeks [weeks_start, weeks_end) are rows of the weekly roll-up, percentiles
# included (a year of every location: ~1.3k rows read as they are). The other whole days
# come from the daily aggregate and the partial end days from stays, added up into their
# day or week buckets with the histogram to interpolate in. Day buckets pass an empty span
# of weeks.
_LOCATIONS_FROM_AGGREGATES = f"""
WITH parts AS (
    SELECT bucket AS part_start, location, stays_count, completed_count, in_progress_count,
           dwell_sum_seconds, dwell_histogram
    FROM location_dwell_daily
    WHERE ((bucket >= %(whole_start)s AND bucket < %(weeks_start)s)
           OR (bucket >= %(weeks_end)s AND bucket < %(whole_end)s))
      AND (%(location)s::text IS NULL OR location = %(location)s)
    UNION ALL
    SELECT date_trunc('day', arrived_at, 'UTC'), location, count(*),
           count(*) FILTER (WHERE {_COMPLETED_DWELL}),
           count(*) FILTER (WHERE status = 'in_progress'),
           sum(dwell_seconds) FILTER (WHERE {_COMPLETED_DWELL}),
           {_histogram(_COMPLETED_DWELL, "kpi_histogram_bucket(dwell_seconds)")}
    FROM stays
    WHERE {_FRINGE.format(t="arrived_at")}
      AND (%(location)s::text IS NULL OR location = %(location)s)
    GROUP BY 1, 2
)
SELECT bucket, location, stays_count, completed_count, in_progress_count, dwell_mean_seconds,
       dwell_histogram_median_seconds, dwell_histogram_p90_seconds, NULL::bigint[]
FROM location_dwell_weekly
WHERE bucket >= %(weeks_start)s AND bucket < %(weeks_end)s
  AND (%(location)s::text IS NULL OR location = %(location)s)
UNION ALL
SELECT date_bin(%(stride)s, part_start, %(monday)s), location,
       sum(stays_count::integer), sum(completed_count::integer),
       sum(in_progress_count::integer),
       sum(dwell_sum_seconds::double precision) / nullif(sum(completed_count::integer), 0),
       NULL, NULL, {_summed("dwell_histogram")}
FROM parts GROUP BY 1, 2
ORDER BY 2, 1
"""  # noqa: S608
_CROSSINGS_FROM_DAILY = f"""
WITH days AS (
    SELECT border_id, direction, completed_count, in_progress_count, tfi1_sum_seconds,
           tfi1_histogram
    FROM crossing_time_daily
    WHERE {_IN_WHOLE_DAYS} AND (%(border)s::text IS NULL OR border_id = %(border)s)
    UNION ALL
    SELECT border_id, direction, count(*) FILTER (WHERE {_COMPLETED_TFI1}),
           count(*) FILTER (WHERE status = 'in_progress'),
           sum(tfi1_seconds) FILTER (WHERE {_COMPLETED_TFI1}),
           {_histogram(_COMPLETED_TFI1, "kpi_histogram_bucket(tfi1_seconds)")}
    FROM crossings
    WHERE {_FRINGE.format(t="arrived_at")}
      AND (%(border)s::text IS NULL OR border_id = %(border)s)
    GROUP BY 1, 2
), totals AS (
    SELECT border_id, direction, sum(completed_count::integer) AS completed,
           sum(in_progress_count::integer) AS in_progress,
           sum(tfi1_sum_seconds::double precision)
               / nullif(sum(completed_count::integer), 0) AS mean,
           {_summed("tfi1_histogram")} AS histogram
    FROM days GROUP BY 1, 2
)
SELECT border_id, direction, completed, in_progress, mean, histogram
FROM totals ORDER BY border_id, direction
"""  # noqa: S608
_LEG_FILTER = """(%(from)s::text IS NULL OR from_location = %(from)s)
      AND (%(to)s::text IS NULL OR to_location = %(to)s)"""
# The running totals of the latest day of a leg before `bound` (leg_time_daily_key).
_RUNNING_BEFORE = """LEFT JOIN LATERAL (
        SELECT legs_running_count AS legs, travel_running_histogram AS travel,
               swod_running_histogram AS swod, swd_running_histogram AS swd
        FROM leg_time_daily AS d
        WHERE (d.from_location, d.to_location, d.mode)
              = (g.from_location, g.to_location, g.mode) AND d.bucket < %({bound})s
        ORDER BY d.bucket DESC LIMIT 1) AS {alias} ON true"""


def _minus(column: str) -> str:
    """Element-wise ``upto.column - before.column`` (before may be NULL: nothing yet)."""
    slots = (f"upto.{column}[{i}] - coalesce(before.{column}[{i}], 0)" for i in _SLOTS)
    return f"ARRAY[{', '.join(slots)}]::bigint[]"


# Whole days: per leg, running totals at the last day before whole_end minus those at the
# last day before whole_start; partial end days from legs, as for stays and crossings.
_LEGS_FROM_DAILY = f"""
WITH groups AS (
    SELECT DISTINCT from_location, to_location, mode FROM leg_time_daily
    WHERE {_LEG_FILTER}
), days AS (
    SELECT g.from_location, g.to_location, g.mode,
           upto.legs - coalesce(before.legs, 0) AS legs_count,
           {_minus("travel")} AS travel_histogram, {_minus("swod")} AS swod_histogram,
           {_minus("swd")} AS swd_histogram
    FROM groups AS g
    {_RUNNING_BEFORE.format(bound="whole_end", alias="upto")}
    {_RUNNING_BEFORE.format(bound="whole_start", alias="before")}
    WHERE upto.legs > coalesce(before.legs, 0)
    UNION ALL
    SELECT from_location, to_location, mode, count(*),
           {_histogram("true", "kpi_histogram_bucket(travel_seconds)")},
           {_histogram("swod_kmh IS NOT NULL", "kpi_speed_histogram_bucket(swod_kmh)")},
           {_histogram("swd_kmh IS NOT NULL", "kpi_speed_histogram_bucket(swd_kmh)")}
    FROM legs
    WHERE {_FRINGE.format(t="departed_at")} AND {_LEG_FILTER}
    GROUP BY 1, 2, 3
)
SELECT from_location, to_location, mode, sum(legs_count::integer),
       {_summed("travel_histogram")}, {_summed("swod_histogram")}, {_summed("swd_histogram")}
FROM days GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""  # noqa: S608
_QUEUES = """
SELECT location, count(*), min(arrived_at) FROM stays
WHERE status = 'in_progress' AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
GROUP BY location ORDER BY location
"""
# `search_consignments`: the condition of each `ConsignmentFilter` field.
_FILTERS: dict[str, str] = {
    "tir_carnet": "tir_carnet = {}",
    "mrn": "mrn = {}",
    "permit_id": "permit_id = {}",
    "vehicle_plate": "vehicle_plates @> ARRAY[{}]::text[]",
    "container": "container_numbers @> ARRAY[{}]::text[]",
    "state": "state = {}",
    "location": "current_location = {}",
    "last_event_before": "last_event_at < {}",
}
_NORMALISED = frozenset({"tir_carnet", "mrn", "permit_id", "vehicle_plate", "container"})


_CARRIERS = "SELECT consignment_id, carrier_id FROM consignments WHERE consignment_id = ANY(%s)"


class ReadRepository:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        """The carrier of each of these consignments that is stored; unknown ids are absent."""
        if not consignment_ids:
            return {}
        async with self._pool.connection() as conn:
            rows = await _all(conn, _CARRIERS, (list(consignment_ids),))
        return {str(row[0]): str(row[1]) for row in rows}

    async def consignment(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> ConsignmentView | None:
        async with self._pool.connection() as conn:
            return await _consignment(conn, consignment_id, carrier_id)

    async def timeline(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> TimelineView | None:
        """The consignment with its events (timeline order), stays, crossings and legs."""
        async with self._pool.connection() as conn:
            consignment = await _consignment(conn, consignment_id, carrier_id)
            if consignment is None:
                return None
            events = await _all(conn, _EVENTS, (consignment_id,))
            stays = await _all(conn, _STAYS, (consignment_id,))
            crossings = await _all(conn, _CROSSINGS, (consignment_id,))
            legs = await _all(conn, _LEGS, (consignment_id,))
        parsed = sorted(
            (TransitEvent.model_validate(row[0]) for row in events), key=lambda e: e.sort_key
        )
        return TimelineView(
            consignment=consignment,
            events=tuple(parsed),
            stays=tuple(_stay(row) for row in stays),
            crossings=tuple(CrossingView(*row) for row in crossings),
            legs=tuple(LegView(*row) for row in legs),
        )

    async def search_by_reference(
        self,
        value: str,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]:
        """Consignments known by ``value`` as id, carnet, MRN, permit, plate or container,
        newest first; keyset pagination on (last_event_at, consignment_id)."""
        after_time, after_id = after or (None, None)
        params = {
            "raw": value.strip(),
            "q": normalize_reference(value),
            "permit": normalize_permit_id(value),
            "carrier": carrier_id,
            "after_time": after_time,
            "after_id": after_id,
            "limit": limit + 1,
        }
        async with self._pool.connection() as conn:
            rows = await _all(conn, _SEARCH, params)
        items = tuple(_consignment_view(row) for row in rows[:limit])
        return Page(items=items, has_more=len(rows) > limit)

    async def in_progress_at(
        self,
        location: str,
        carrier_id: str | None = None,
        as_of: datetime | None = None,
        limit: int = 500,
    ) -> tuple[InProgressStayView, ...]:
        """Open stays at ``location``, longest waiting first."""
        params = {"location": location, "carrier": carrier_id, "as_of": as_of, "limit": limit}
        async with self._pool.connection() as conn:
            rows = await _all(conn, _IN_PROGRESS, params)
        return tuple(InProgressStayView(*row) for row in rows)

    async def location_performance(
        self,
        location: str,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LocationPerformance, ...]:
        """Per bucket of arrival time in [start, end): stays, completed, in progress, and
        mean, median and p90 dwell of the completed ones (see ``Percentiles``)."""
        return await self.locations_performance(start, end, granularity, location, percentiles)

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
            async with self._pool.connection() as conn:
                rows = await _all(conn, _CROSSING_PERFORMANCE, params)
            return tuple(CrossingPerformance(*row) for row in rows)
        async with self._pool.connection() as conn:
            rows = await _all(conn, _CROSSINGS_FROM_DAILY, params | _whole_days(start, end))
        return tuple(CrossingPerformance(*row[:5], *_quantiles(row[5], 0.5, 0.9)) for row in rows)

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
            async with self._pool.connection() as conn:
                rows = await _all(conn, _LEG_PERFORMANCE, params)
            return tuple(LegPerformance(*row) for row in rows)
        async with self._pool.connection() as conn:
            rows = await _all(conn, _LEGS_FROM_DAILY, params | _whole_days(start, end))
        return tuple(
            LegPerformance(
                row[0],
                row[1],
                row[2],
                row[3],
                histogram_percentile(row[4], 0.5),
                histogram_percentile(row[5], 0.5, SPEED_EDGES_KMH),
                histogram_percentile(row[6], 0.5, SPEED_EDGES_KMH),
            )
            for row in rows
        )

    async def alerts(
        self,
        since: datetime,
        location: str | None = None,
        kind: str | None = None,
        carrier_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> tuple[AlertView, ...]:
        """Alerts raised at or after ``since``, oldest first; page on with ``after_id``."""
        params = {
            "since": since,
            "location": location,
            "kind": kind,
            "carrier": carrier_id,
            "after_id": after_id,
            "limit": limit,
        }
        async with self._pool.connection() as conn:
            rows = await _all(conn, _ALERTS, params)
        return tuple(AlertView(*row) for row in rows)

    async def api_key_by_hash(
        self, key_hash: str, include_revoked: bool = False
    ) -> ApiKeyView | None:
        async with self._pool.connection() as conn:
            rows = await _all(conn, _API_KEY, {"hash": key_hash, "revoked": include_revoked})
        if not rows:
            return None
        (key_id, name, role, prefix, locations, carrier_id, created_at, revoked_at) = rows[0]
        return ApiKeyView(
            id=key_id,
            name=name,
            role=ApiKeyRole(role),
            key_prefix=prefix,
            allowed_locations=tuple(locations) if locations is not None else None,
            carrier_id=carrier_id,
            created_at=created_at,
            revoked_at=revoked_at,
        )

    # -- reads added for the API (services/api) -------------------------------------------

    async def consignment_status(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> ConsignmentStatusView | None:
        """The consignment and its stays, without the events (cheaper than `timeline`)."""
        async with self._pool.connection() as conn:
            consignment = await _consignment(conn, consignment_id, carrier_id)
            if consignment is None:
                return None
            stays = await _all(conn, _STAYS, (consignment_id,))
        return ConsignmentStatusView(consignment, tuple(_stay(row) for row in stays))

    async def tracker_clock(self) -> datetime | None:
        """The tracker's event-time clock (`storage.tracking.EVENT_CLOCK`); None when empty."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(EVENT_CLOCK)).fetchone()
        return row[0] if row else None

    async def recent_dwell_seconds(
        self, location: str, since: datetime, until: datetime
    ) -> list[int]:
        """Dwell of the location's completed stays that departed in [since, until)."""
        async with self._pool.connection() as conn:
            rows = await _all(
                conn, _RECENT_DWELLS, {"location": location, "since": since, "until": until}
            )
        return [int(row[0]) for row in rows]

    async def search_consignments(
        self,
        filters: ConsignmentFilter,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]:
        """Consignments matching every given filter, newest last event first; keyset
        pagination on (last_event_at, consignment_id)."""
        conditions: list[sql.Composable] = []
        params: dict[str, Any] = {"limit": limit + 1}
        for name, template in _FILTERS.items():
            value = getattr(filters, name)
            if value is None:
                continue
            if name == "permit_id":
                params[name] = normalize_permit_id(value)
            else:
                params[name] = normalize_reference(value) if name in _NORMALISED else value
            conditions.append(sql.SQL(template).format(sql.Placeholder(name)))
        if carrier_id is not None:
            params["carrier"] = carrier_id
            conditions.append(sql.SQL("carrier_id = %(carrier)s"))
        if after is not None:
            params["after_time"], params["after_id"] = after
            conditions.append(
                sql.SQL("(last_event_at, consignment_id) < (%(after_time)s, %(after_id)s::text)")
            )
        where = sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("true")
        query = sql.SQL(
            "SELECT {columns} FROM consignments WHERE {where} "
            "ORDER BY last_event_at DESC, consignment_id DESC LIMIT %(limit)s"
        ).format(columns=sql.SQL(_CONSIGNMENT_COLUMNS), where=where)
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        items = tuple(_consignment_view(row) for row in rows[:limit])
        return Page(items=items, has_more=len(rows) > limit)

    async def locations_performance(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LocationPerformance, ...]:
        """`location_performance` for one location or, without it, for every location,
        ordered by location then bucket. HISTOGRAM needs day or week buckets."""
        params: dict[str, Any] = {
            "unit": granularity.value,
            "location": location,
            "start": start,
            "end": end,
        }
        if percentiles is Percentiles.EXACT:
            query = _ALL_LOCATIONS_PERFORMANCE if location is None else _LOCATION_PERFORMANCE
            async with self._pool.connection() as conn:
                return tuple(LocationPerformance(*row) for row in await _all(conn, query, params))
        if granularity is Granularity.HOUR:
            raise ValueError("hourly buckets cannot come from the daily aggregates")
        whole = _whole_days(start, end)
        params |= whole | {"stride": _STRIDES[granularity], "monday": _A_MONDAY}
        if granularity is Granularity.WEEK:
            params |= _whole_weeks(whole["whole_start"], whole["whole_end"])
        else:
            params |= {"weeks_start": whole["whole_start"], "weeks_end": whole["whole_start"]}
        async with self._pool.connection() as conn:
            # Binary rows: histogram arrays decode in half the time of their text.
            rows = await _all(conn, _LOCATIONS_FROM_AGGREGATES, params, binary=True)
        # A weekly roll-up row comes with its percentiles; the others with their histogram.
        return tuple(
            LocationPerformance(*row[:8])
            if row[8] is None
            else LocationPerformance(*row[:6], *_quantiles(row[8], 0.5, 0.9))
            for row in rows
        )

    async def location_queues(self, carrier_id: str | None = None) -> tuple[LocationQueueView, ...]:
        """Per location with open stays: how many, and the oldest arrival."""
        async with self._pool.connection() as conn:
            rows = await _all(conn, _QUEUES, {"carrier": carrier_id})
        return tuple(LocationQueueView(*row) for row in rows)

    async def ping(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
        """Whether a pooled connection answers ``SELECT 1`` within ``timeout`` seconds."""
        try:
            async with self._pool.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout):
            return False
        return True


def histogram_percentile(
    histogram: Sequence[int], fraction: float, edges: Sequence[float] = DURATION_EDGES_SECONDS
) -> float | None:
    """SQL kpi_histogram_percentile: linear interpolation inside the slot holding the
    target rank; the open-ended last slot answers its lower edge; None when empty.
    ``fraction`` is in (0, 1]."""
    return histogram_percentiles(histogram, (fraction,), edges)[0]


def histogram_percentiles(
    histogram: Sequence[int],
    fractions: Sequence[float],
    edges: Sequence[float] = DURATION_EDGES_SECONDS,
) -> list[float | None]:
    """`histogram_percentile` at each fraction, adding the histogram up once (a year of
    weekly buckets asks for ~2,500 of them)."""
    running = list(accumulate(histogram))
    total = running[-1] if running else 0
    if total == 0:
        return [None] * len(fractions)
    last = len(edges) - 1
    answers: list[float | None] = []
    for fraction in fractions:
        target = fraction * total
        # The first slot whose running count reaches the target rank; it holds a count > 0
        # since the target is > 0 (the SQL loop's `histogram[i] > 0 AND seen + ... >=`).
        slot = bisect_left(running, target)
        if slot >= last:
            answers.append(float(edges[last]))
            continue
        seen = running[slot - 1] if slot else 0
        width = edges[slot + 1] - edges[slot]
        answers.append(edges[slot] + width * (target - seen) / histogram[slot])
    return answers


def _whole_days(start: datetime, end: datetime) -> dict[str, Any]:
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


def _whole_weeks(whole_start: datetime, whole_end: datetime) -> dict[str, datetime]:
    """The weeks (from Monday 00:00 UTC) wholly inside the whole days [whole_start,
    whole_end), as ``weeks_start``/``weeks_end``; an empty span at ``whole_start`` when
    there are none (the daily aggregate then answers every whole day)."""
    first = whole_start + timedelta(days=-whole_start.weekday() % 7)
    last = whole_end - timedelta(days=whole_end.weekday())
    if first >= last:
        first = last = whole_start
    return {"weeks_start": first, "weeks_end": last}


def _quantiles(histogram: Sequence[int], *fractions: float) -> list[float | None]:
    return histogram_percentiles(histogram, fractions)


async def _all(
    conn: AsyncConnection[TupleRow],
    query: str,
    params: Sequence[Any] | dict[str, Any],
    binary: bool = False,
) -> list[Row]:
    cursor = await conn.execute(query, params, binary=binary)
    return await cursor.fetchall()


async def _consignment(
    conn: AsyncConnection[TupleRow], consignment_id: str, carrier_id: str | None
) -> ConsignmentView | None:
    rows = await _all(conn, _CONSIGNMENT, {"id": consignment_id, "carrier": carrier_id})
    return _consignment_view(rows[0]) if rows else None


def _consignment_view(row: Row) -> ConsignmentView:
    (
        consignment_id,
        carrier_id,
        state,
        current_location,
        first_event_at,
        last_event_at,
        event_count,
        route_id,
        declared_route,
        tir_carnet,
        mrn,
        permit_id,
        plates,
        containers,
        anomaly_count,
        updated_at,
    ) = row
    return ConsignmentView(
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        state=ConsignmentState(state),
        current_location=current_location,
        first_event_at=first_event_at,
        last_event_at=last_event_at,
        event_count=event_count,
        route_id=route_id,
        declared_route=tuple(declared_route),
        references=ReferencesView(
            tir_carnet=tir_carnet,
            mrn=mrn,
            permit_id=permit_id,
            vehicle_plates=tuple(plates),
            container_numbers=tuple(containers),
        ),
        anomaly_count=anomaly_count,
        updated_at=updated_at,
    )


def _stay(row: Row) -> StayView:
    values = list(row)
    values[6] = StayStatus(values[6])
    return StayView(*values)
