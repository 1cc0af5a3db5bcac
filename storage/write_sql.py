"""The SQL the write repository runs, built once at import from the row types: events,
consignments, their stays, crossings and legs (staged, merged, pruned), alerts, the
tracker's progress and API keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from psycopg import sql

from storage.rows import ConsignmentRow, CrossingRow, EventRow, LegRow, StayRow

EVENT_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, EventRow._fields))
INSERT_EVENT = sql.SQL(
    "INSERT INTO transit_events ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
).format(
    columns=EVENT_COLUMNS, values=sql.SQL(", ").join(sql.Placeholder() * len(EventRow._fields))
)
EVENT_TYPES = {
    "event_id": "uuid",
    "occurred_at": "timestamptz",
    "event_type": "text",
    "location": "text",
    "consignment_id": "text",
    "carrier_id": "text",
    "source_system": "text",
    "fingerprint": "text",
    "payload": "jsonb",
}
assert tuple(EVENT_TYPES) == EventRow._fields
MERGE_STAGING = sql.SQL(
    "INSERT INTO transit_events ({columns}) SELECT {columns} FROM transit_events_staging"
    " ON CONFLICT DO NOTHING"
).format(columns=EVENT_COLUMNS)
CONSIGNMENT_TYPES = {
    "consignment_id": "text",
    "carrier_id": "text",
    "state": "text",
    "current_location": "text",
    "first_event_at": "timestamptz",
    "last_event_at": "timestamptz",
    "event_count": "integer",
    "route_id": "text",
    "declared_route": "text[]",
    "tir_carnet": "text",
    "mrn": "text",
    "permit_id": "text",
    "vehicle_plates": "text[]",
    "container_numbers": "text[]",
    "anomaly_count": "integer",
}
assert tuple(CONSIGNMENT_TYPES) == ConsignmentRow._fields
UPSERT_CONSIGNMENTS = """
INSERT INTO consignments AS c (
    consignment_id, carrier_id, state, current_location, first_event_at, last_event_at,
    event_count, route_id, declared_route, tir_carnet, mrn, permit_id, vehicle_plates,
    container_numbers, anomaly_count)
SELECT consignment_id, carrier_id, state, current_location, first_event_at, last_event_at,
       event_count, route_id, declared_route, tir_carnet, mrn, permit_id, vehicle_plates,
       container_numbers, anomaly_count
FROM consignments_staging
ORDER BY consignment_id
ON CONFLICT (consignment_id) DO UPDATE SET
    carrier_id = EXCLUDED.carrier_id,
    state = EXCLUDED.state,
    current_location = EXCLUDED.current_location,
    first_event_at = EXCLUDED.first_event_at,
    last_event_at = EXCLUDED.last_event_at,
    event_count = EXCLUDED.event_count,
    route_id = EXCLUDED.route_id,
    declared_route = EXCLUDED.declared_route,
    tir_carnet = EXCLUDED.tir_carnet,
    mrn = EXCLUDED.mrn,
    permit_id = EXCLUDED.permit_id,
    vehicle_plates = EXCLUDED.vehicle_plates,
    container_numbers = EXCLUDED.container_numbers,
    anomaly_count = EXCLUDED.anomaly_count,
    updated_at = now()
-- Stale or equal versions change nothing: replays and out-of-order upserts converge.
WHERE (c.event_count, c.last_event_at) < (EXCLUDED.event_count, EXCLUDED.last_event_at)
RETURNING c.consignment_id
"""
INSERT_ALERTS = """
INSERT INTO alerts (kind, consignment_id, carrier_id, location, occurred_at, raised_at, detail,
                    dedup_key)
-- One row per key: DO UPDATE may not touch a row twice in one statement.
SELECT DISTINCT ON (8) * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[],
                                     %s::timestamptz[], %s::timestamptz[], %s::text[], %s::text[])
ORDER BY 8
-- An alert withdrawn earlier whose condition is back re-opens and counts as raised again.
ON CONFLICT (dedup_key) DO UPDATE
SET withdrawn_at = NULL, raised_at = excluded.raised_at, occurred_at = excluded.occurred_at,
    detail = excluded.detail
WHERE alerts.withdrawn_at IS NOT NULL
RETURNING dedup_key
"""
# One statement per batch: the open alerts of the rewritten consignments, of the kinds their
# timeline decides, whose dedup keys the rewritten timelines no longer support.
WITHDRAW_ALERTS = """
UPDATE alerts SET withdrawn_at = coalesce(%(at)s::timestamptz, now())
WHERE consignment_id = ANY(%(consignments)s::text[])
  AND withdrawn_at IS NULL
  AND kind = ANY(%(kinds)s::text[])
  AND NOT (dedup_key = ANY(%(current)s::text[]))
"""
# A partition's clock and offset only move forward: a late event's older time, or a
# replayed batch's older offset, leaves them alone.
RECORD_PROGRESS = """
INSERT INTO tracker_progress (topic, partition, event_time, next_offset)
SELECT * FROM unnest(%s::text[], %s::integer[], %s::timestamptz[], %s::bigint[])
ORDER BY 1, 2
ON CONFLICT (topic, partition) DO UPDATE
SET event_time = greatest(tracker_progress.event_time, excluded.event_time),
    next_offset = greatest(tracker_progress.next_offset, excluded.next_offset),
    updated_at = now()
"""
STORED_OFFSETS = """
SELECT p.topic, p.partition, CASE WHEN t.topic IS NULL THEN 0 ELSE t.next_offset END
FROM unnest(%s::text[], %s::integer[]) AS p (topic, partition)
LEFT JOIN tracker_progress t USING (topic, partition)
WHERE t.topic IS NULL OR t.next_offset IS NOT NULL
"""
INSERT_API_KEY = """
INSERT INTO api_keys (name, role, key_prefix, key_hash, allowed_locations, carrier_id)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING id
"""
REVOKE_API_KEY = """
UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL
"""


class Child(NamedTuple):
    """A table holding rows that belong to a consignment, and its unique key."""

    table: str
    types: dict[str, str]
    key: tuple[str, ...]


STAYS = Child(
    "stays",
    {
        "consignment_id": "text",
        "location": "text",
        "visit": "integer",
        "carrier_id": "text",
        "country": "text",
        "mode": "text",
        "direction": "text",
        "status": "text",
        "arrived_at": "timestamptz",
        "released_at": "timestamptz",
        "departed_at": "timestamptz",
        "inspection_started_at": "timestamptz",
        "inspection_completed_at": "timestamptz",
        "dwell_seconds": "integer",
        "arrival_to_release_seconds": "integer",
        "release_to_departure_seconds": "integer",
        "inspection_seconds": "integer",
        "implausible": "boolean",
    },
    ("consignment_id", "location", "visit", "arrived_at"),
)
CROSSINGS = Child(
    "crossings",
    {
        "consignment_id": "text",
        "carrier_id": "text",
        "border_id": "text",
        "from_location": "text",
        "to_location": "text",
        "direction": "text",
        "mode": "text",
        "status": "text",
        "arrived_at": "timestamptz",
        "departed_at": "timestamptz",
        "tfi1_seconds": "integer",
    },
    ("consignment_id", "border_id", "arrived_at"),
)
LEGS = Child(
    "legs",
    {
        "consignment_id": "text",
        "carrier_id": "text",
        "from_location": "text",
        "to_location": "text",
        "mode": "text",
        "departed_at": "timestamptz",
        "arrived_at": "timestamptz",
        "distance_km": "double precision",
        "travel_seconds": "integer",
        "origin_dwell_seconds": "integer",
        "swod_kmh": "double precision",
        "swd_kmh": "double precision",
        "implausible": "boolean",
    },
    ("consignment_id", "departed_at", "from_location", "to_location"),
)
assert tuple(STAYS.types) == StayRow._fields
assert tuple(CROSSINGS.types) == CrossingRow._fields
assert tuple(LEGS.types) == LegRow._fields


def staging(table: str, types: Mapping[str, str]) -> tuple[sql.Composed, sql.Composed]:
    """A session-private table to COPY rows into (COPY is far cheaper than array
    parameters), emptied at commit; and the COPY statement that fills it."""
    staging = sql.Identifier(f"{table}_staging")
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind)) for name, kind in types.items()
    )
    create = sql.SQL(
        "CREATE TEMP TABLE IF NOT EXISTS {staging} ({columns}) ON COMMIT DELETE ROWS"
    ).format(staging=staging, columns=columns)
    copy = sql.SQL("COPY {staging} ({names}) FROM STDIN").format(
        staging=staging, names=sql.SQL(", ").join(map(sql.Identifier, types))
    )
    return create, copy


def delete_missing_sql(child: Child) -> sql.Composed:
    """Rows of the given consignments whose key is not among the staged rows (e.g. a stay
    that became visit 2 after a late arrival re-ordered visits)."""
    matches = sql.SQL(" AND ").join(
        sql.SQL("k.{c} = t.{c}").format(c=sql.Identifier(c)) for c in child.key
    )
    return sql.SQL(
        "DELETE FROM {table} AS t WHERE t.consignment_id = ANY(%s::text[])"
        " AND NOT EXISTS (SELECT 1 FROM {staging} AS k WHERE {matches})"
    ).format(
        table=sql.Identifier(child.table),
        staging=sql.Identifier(f"{child.table}_staging"),
        matches=matches,
    )


def upsert_sql(child: Child) -> sql.Composed:
    columns = list(child.types)
    updated = [c for c in columns if c not in child.key]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    return sql.SQL(
        "INSERT INTO {table} AS t ({names}) SELECT {names} FROM {staging} ORDER BY {key}"
        " ON CONFLICT ({key}) DO UPDATE SET {sets}, updated_at = now()"
        " WHERE ({old}) IS DISTINCT FROM ({new})"
    ).format(
        table=sql.Identifier(child.table),
        names=names,
        staging=sql.Identifier(f"{child.table}_staging"),
        key=sql.SQL(", ").join(map(sql.Identifier, child.key)),
        sets=sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updated
        ),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updated),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updated),
    )


class ChildSql(NamedTuple):
    staging: tuple[sql.Composed, sql.Composed]
    delete_missing: sql.Composed
    upsert: sql.Composed


CHILD_SQL = {
    child.table: ChildSql(
        staging(child.table, child.types), delete_missing_sql(child), upsert_sql(child)
    )
    for child in (STAYS, CROSSINGS, LEGS)
}
CONSIGNMENT_STAGING = staging("consignments", CONSIGNMENT_TYPES)
EVENT_STAGING = staging("transit_events", EVENT_TYPES)
