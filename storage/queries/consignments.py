"""One consignment (status, timeline) and the consignment search, for the API.

Carrier scoping: pass ``carrier_id`` and a consignment of another carrier is answered
exactly like an unknown one (None), so an id cannot be probed across carriers.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

from corridor.events import TransitEvent
from corridor.model import ConsignmentState, StayStatus
from storage.queries.fetch import PooledQueries, Row, fetch_all
from storage.rows import normalize_permit_id, normalize_reference
from storage.views import (
    ConsignmentFilter,
    ConsignmentKey,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingView,
    LegView,
    Page,
    ReferencesView,
    StayView,
    TimelineView,
)

# The f-strings below only splice in this module's own constant SQL fragments (S608).

CONSIGNMENT_COLUMNS = """
    consignment_id, carrier_id, state, current_location, first_event_at, last_event_at,
    event_count, route_id, declared_route, tir_carnet, mrn, permit_id, vehicle_plates,
    container_numbers, anomaly_count, updated_at
"""
_CONSIGNMENT = f"""
SELECT {CONSIGNMENT_COLUMNS} FROM consignments
WHERE consignment_id = %(id)s AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
"""  # noqa: S608
_EVENTS = "SELECT payload FROM transit_events WHERE consignment_id = %s ORDER BY occurred_at"
_STAYS = """
SELECT consignment_id, location, visit, country, mode, direction, status, arrived_at,
       released_at, departed_at, inspection_started_at, inspection_completed_at, dwell_seconds,
       arrival_to_release_seconds, release_to_departure_seconds, inspection_seconds, implausible
FROM stays WHERE consignment_id = %s ORDER BY arrived_at, location, visit
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


class ConsignmentQueries(PooledQueries):
    async def timeline(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> TimelineView | None:
        """The consignment with its events (timeline order), stays, crossings and legs."""
        async with self._pool.connection() as conn:
            consignment = await _consignment(conn, consignment_id, carrier_id)
            if consignment is None:
                return None
            events = await fetch_all(conn, _EVENTS, (consignment_id,))
            stays = await fetch_all(conn, _STAYS, (consignment_id,))
            crossings = await fetch_all(conn, _CROSSINGS, (consignment_id,))
            legs = await fetch_all(conn, _LEGS, (consignment_id,))
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

    async def consignment_status(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> ConsignmentStatusView | None:
        """The consignment and its stays, without the events (cheaper than `timeline`)."""
        async with self._pool.connection() as conn:
            consignment = await _consignment(conn, consignment_id, carrier_id)
            if consignment is None:
                return None
            stays = await fetch_all(conn, _STAYS, (consignment_id,))
        return ConsignmentStatusView(consignment, tuple(_stay(row) for row in stays))

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
        ).format(columns=sql.SQL(CONSIGNMENT_COLUMNS), where=where)
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(query, params)).fetchall()
        items = tuple(consignment_view(row) for row in rows[:limit])
        return Page(items=items, has_more=len(rows) > limit)


async def _consignment(
    conn: AsyncConnection[TupleRow], consignment_id: str, carrier_id: str | None
) -> ConsignmentView | None:
    rows = await fetch_all(conn, _CONSIGNMENT, {"id": consignment_id, "carrier": carrier_id})
    return consignment_view(rows[0]) if rows else None


def consignment_view(row: Row) -> ConsignmentView:
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
