"""Read queries returning typed views (``storage.views``); plain SQL, no ORM.

Carrier scoping: pass ``carrier_id`` and a consignment of another carrier is answered
exactly like an unknown one (None), so an id cannot be probed across carriers.
The KPI reads (the rest of ``services.api.ports.ApiReads``) live in
``storage.queries.kpis`` and are inherited from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow
from psycopg_pool import PoolTimeout

from corridor.events import TransitEvent
from corridor.journey import ConsignmentState, StayStatus
from storage.db import Pool
from storage.queries.kpis import KpiQueries
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
    CrossingView,
    InProgressStayView,
    LegView,
    LocationQueueView,
    Page,
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
       arrival_to_release_seconds, release_to_departure_seconds, inspection_seconds, implausible
FROM stays WHERE consignment_id = %s ORDER BY arrived_at, location, visit
"""
# Completed stays at a location that departed in [since, until). The arrival bound lets
# the (location, arrived_at) index, and TimescaleDB's chunks, narrow the scan; a stay
# longer than the window itself is too rare to move a percentile.
_RECENT_DWELLS = """
SELECT dwell_seconds FROM stays
WHERE location = %(location)s AND status = 'completed' AND dwell_seconds IS NOT NULL
  AND NOT implausible
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
       travel_seconds, origin_dwell_seconds, swod_kmh, swd_kmh, implausible
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


class ReadRepository(KpiQueries):
    def __init__(self, pool: Pool) -> None:
        super().__init__(pool)
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
