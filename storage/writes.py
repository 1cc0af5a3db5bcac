"""Write repository: raw events, timelines (consignment, stays, crossings, legs), alerts, keys.

Every public method runs its batch in one transaction. Writes are idempotent: a replayed
event is a no-op (unique (event_id, occurred_at)); a timeline is applied only when it is
newer than the stored one (more events, then later last event), and then the
consignment's stays, crossings and legs are replaced by the new set in the same
transaction under the consignment row's lock; an alert is raised once per dedup key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import AsyncCursor, sql
from psycopg.rows import TupleRow

from corridor.events import TransitEvent
from corridor.model import Timeline
from corridor.reference import CorridorReference
from storage.db import Pool
from storage.progress import DatabaseBehind, Partition, PartitionProgress
from storage.rows import (
    AlertRow,
    ApiKeyRow,
    ConsignmentRow,
    CrossingRow,
    EventRow,
    LegRow,
    StayRow,
    TimelineRows,
    event_row,
    timeline_rows,
)

Cursor = AsyncCursor[TupleRow]

# Below this many events, one executemany (pipelined) beats creating and filling staging.
DEFAULT_COPY_THRESHOLD = 500

_EVENT_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, EventRow._fields))
_INSERT_EVENT = sql.SQL(
    "INSERT INTO transit_events ({columns}) VALUES ({values}) ON CONFLICT DO NOTHING"
).format(
    columns=_EVENT_COLUMNS, values=sql.SQL(", ").join(sql.Placeholder() * len(EventRow._fields))
)
_EVENT_TYPES = {
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
assert tuple(_EVENT_TYPES) == EventRow._fields
_MERGE_STAGING = sql.SQL(
    "INSERT INTO transit_events ({columns}) SELECT {columns} FROM transit_events_staging"
    " ON CONFLICT DO NOTHING"
).format(columns=_EVENT_COLUMNS)

_CONSIGNMENT_TYPES = {
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
assert tuple(_CONSIGNMENT_TYPES) == ConsignmentRow._fields

_UPSERT_CONSIGNMENTS = """
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

_INSERT_ALERTS = """
INSERT INTO alerts (kind, consignment_id, carrier_id, location, occurred_at, raised_at, detail,
                    dedup_key)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::timestamptz[],
                     %s::timestamptz[], %s::text[], %s::text[])
ORDER BY 8
ON CONFLICT (dedup_key) DO NOTHING
RETURNING dedup_key
"""

# A partition's clock and offset only move forward: a late event's older time, or a
# replayed batch's older offset, leaves them alone.
_RECORD_PROGRESS = """
INSERT INTO tracker_progress (topic, partition, event_time, next_offset)
SELECT * FROM unnest(%s::text[], %s::integer[], %s::timestamptz[], %s::bigint[])
ORDER BY 1, 2
ON CONFLICT (topic, partition) DO UPDATE
SET event_time = greatest(tracker_progress.event_time, excluded.event_time),
    next_offset = greatest(tracker_progress.next_offset, excluded.next_offset),
    updated_at = now()
"""

_STORED_OFFSETS = """
SELECT p.topic, p.partition, CASE WHEN t.topic IS NULL THEN 0 ELSE t.next_offset END
FROM unnest(%s::text[], %s::integer[]) AS p (topic, partition)
LEFT JOIN tracker_progress t USING (topic, partition)
WHERE t.topic IS NULL OR t.next_offset IS NOT NULL
"""

_INSERT_API_KEY = """
INSERT INTO api_keys (name, role, key_prefix, key_hash, allowed_locations, carrier_id)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING id
"""

_REVOKE_API_KEY = """
UPDATE api_keys SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL
"""


class _Child(NamedTuple):
    """A table holding rows that belong to a consignment, and its unique key."""

    table: str
    types: dict[str, str]
    key: tuple[str, ...]


_STAYS = _Child(
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
_CROSSINGS = _Child(
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
_LEGS = _Child(
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
assert tuple(_STAYS.types) == StayRow._fields
assert tuple(_CROSSINGS.types) == CrossingRow._fields
assert tuple(_LEGS.types) == LegRow._fields


def _staging(table: str, types: Mapping[str, str]) -> tuple[sql.Composed, sql.Composed]:
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


def _delete_missing_sql(child: _Child) -> sql.Composed:
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


def _upsert_sql(child: _Child) -> sql.Composed:
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


class _ChildSql(NamedTuple):
    staging: tuple[sql.Composed, sql.Composed]
    delete_missing: sql.Composed
    upsert: sql.Composed


_CHILD_SQL = {
    child.table: _ChildSql(
        _staging(child.table, child.types), _delete_missing_sql(child), _upsert_sql(child)
    )
    for child in (_STAYS, _CROSSINGS, _LEGS)
}
_CONSIGNMENT_STAGING = _staging("consignments", _CONSIGNMENT_TYPES)
_EVENT_STAGING = _staging("transit_events", _EVENT_TYPES)


async def _stage(
    cur: Cursor, staging: tuple[sql.Composed, sql.Composed], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Fill a staging table (see `_staging`) with rows, creating it on first use."""
    create, copy_rows = staging
    await cur.execute(create)
    async with cur.copy(copy_rows) as copy:
        for row in rows:
            await copy.write_row(row)


async def _stored_offsets(cur: Cursor, partitions: Sequence[Partition]) -> dict[Partition, int]:
    await cur.execute(_STORED_OFFSETS, _columns(sorted(partitions), 2))
    return {(topic, partition): offset for topic, partition, offset in await cur.fetchall()}


async def _check_not_behind(cur: Cursor, expected: Mapping[Partition, int]) -> None:
    stored = await _stored_offsets(cur, list(expected))
    behind = {tp: stored[tp] for tp, offset in expected.items() if stored.get(tp, offset) < offset}
    if behind:
        raise DatabaseBehind(behind)


def _columns(rows: Sequence[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[]] * width


@dataclass(frozen=True, slots=True)
class BatchResult:
    events_inserted: int
    timelines_applied: int
    alerts_raised: int
    # The rows each consignment now holds, for those whose rows took the batch's timeline
    # (the others held something newer); hand them back as `stored` next time.
    written: Mapping[str, TimelineRows] = field(default_factory=dict)

    @property
    def applied_ids(self) -> frozenset[str]:
        return frozenset(self.written)


class WriteRepository:
    """SQL of the write side; mapping of domain values to rows lives in ``storage.rows``."""

    def __init__(
        self,
        pool: Pool,
        reference: CorridorReference | None = None,
        copy_threshold: int = DEFAULT_COPY_THRESHOLD,
    ) -> None:
        self._pool = pool
        self._reference = reference
        self._copy_threshold = copy_threshold

    async def insert_events(self, events: Sequence[TransitEvent]) -> int:
        """Store raw events; returns how many were new (replays are no-ops)."""
        return (await self.write_batch(events=events)).events_inserted

    async def upsert_timeline(self, timeline: Timeline) -> bool:
        """Store one timeline; False when the stored one is as new or newer."""
        return (await self.write_batch(timelines=[timeline])).timelines_applied == 1

    async def upsert_timelines(self, timelines: Sequence[Timeline]) -> int:
        return (await self.write_batch(timelines=timelines)).timelines_applied

    async def insert_alerts(self, alerts: Sequence[AlertRow]) -> int:
        """Raise alerts; returns how many were new (one per dedup key, ever)."""
        return len(await self.raise_alerts(alerts))

    async def write_batch(
        self,
        events: Sequence[TransitEvent] = (),
        timelines: Sequence[Timeline] = (),
        alerts: Sequence[AlertRow] = (),
        stored: Mapping[str, TimelineRows] | None = None,
        progress: Mapping[Partition, PartitionProgress] | None = None,
        expected_offsets: Mapping[Partition, int] | None = None,
    ) -> BatchResult:
        """Events, timelines and alerts of one batch, all in one transaction.

        `stored` may give, per consignment, the rows it holds now (as a caller that wrote
        them knows: `BatchResult.written`); only the stays, crossings and legs that differ
        are then written. Without it, a consignment's child rows are replaced whole.
        `progress` gives, per (topic, partition) the batch read, its newest event time and
        next offset. `expected_offsets`: the next offsets the caller knows the database
        holds at least; raises `DatabaseBehind`, writing nothing, if it holds less.
        """
        rows = [timeline_rows(timeline, self._reference) for timeline in timelines]
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if expected_offsets:
                await _check_not_behind(cur, expected_offsets)
            inserted = await self._insert_events(cur, [event_row(e) for e in events])
            written = await self._upsert_timelines(cur, rows, stored or {})
            raised = await self._insert_alerts(cur, alerts)
            if progress:
                await cur.execute(
                    _RECORD_PROGRESS,
                    _columns([(t, p, *done) for (t, p), done in sorted(progress.items())], 4),
                )
        return BatchResult(inserted, len(written), len(raised), written)

    async def stored_offsets(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """The next offset the database holds for each of `partitions` (0 for one it has
        no row of; a row from before offsets were kept is left out)."""
        async with self._pool.connection() as conn, conn.cursor() as cur:
            return await _stored_offsets(cur, partitions)

    async def raise_alerts(self, alerts: Sequence[AlertRow]) -> set[str]:
        """Store alerts in one statement; returns the dedup keys that were new."""
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            return await self._insert_alerts(cur, alerts)

    async def insert_api_key(self, key: ApiKeyRow) -> UUID:
        locations = list(key.allowed_locations) if key.allowed_locations is not None else None
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                _INSERT_API_KEY,
                (key.name, key.role.value, key.prefix, key.key_hash, locations, key.carrier_id),
            )
            row = await cursor.fetchone()
        assert row is not None
        key_id: UUID = row[0]
        return key_id

    async def revoke_api_key(self, key_id: UUID, revoked_at: datetime) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_REVOKE_API_KEY, (revoked_at, key_id))
            return cursor.rowcount == 1

    # ------------------------------------------------------------------------- batches

    async def _insert_events(self, cur: Cursor, rows: list[EventRow]) -> int:
        if not rows:
            return 0
        if len(rows) < self._copy_threshold:
            await cur.executemany(_INSERT_EVENT, rows)
            return max(cur.rowcount, 0)
        await _stage(cur, _EVENT_STAGING, rows)
        await cur.execute(_MERGE_STAGING)
        return cur.rowcount

    async def _upsert_timelines(
        self, cur: Cursor, batch: list[TimelineRows], before: Mapping[str, TimelineRows]
    ) -> dict[str, TimelineRows]:
        newest: dict[str, TimelineRows] = {}
        for rows in batch:
            known = newest.get(rows.consignment.consignment_id)
            if known is None or rows.consignment.version > known.consignment.version:
                newest[rows.consignment.consignment_id] = rows
        if not newest:
            return {}
        ordered = [newest[key] for key in sorted(newest)]
        applied = await self._upsert_consignments(cur, [rows.consignment for rows in ordered])
        chosen = [rows for rows in ordered if rows.consignment.consignment_id in applied]
        if chosen:
            await self._sync(cur, _STAYS, chosen, before, lambda rows: rows.stays)
            await self._sync(cur, _CROSSINGS, chosen, before, lambda rows: rows.crossings)
            await self._sync(cur, _LEGS, chosen, before, lambda rows: rows.legs)
        return {rows.consignment.consignment_id: rows for rows in chosen}

    async def _sync(
        self,
        cur: Cursor,
        child: _Child,
        chosen: list[TimelineRows],
        before: Mapping[str, TimelineRows],
        rows_of: Callable[[TimelineRows], Sequence[tuple[Any, ...]]],
    ) -> None:
        """Bring a child table in line with the chosen timelines, writing only changes."""
        positions = [list(child.types).index(column) for column in child.key]

        def key(row: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(row[p] for p in positions)

        pruned: list[str] = []  # consignments that may have rows the new set lacks
        staged: list[tuple[Any, ...]] = []
        for rows in chosen:
            new = rows_of(rows)
            old_rows = before.get(rows.consignment.consignment_id)
            old = rows_of(old_rows) if old_rows is not None else None
            if old is None or {key(r) for r in old} - {key(r) for r in new}:
                # Every new row is staged: the delete keeps exactly the staged keys.
                pruned.append(rows.consignment.consignment_id)
                staged.extend(new)
            else:
                unchanged = set(old)
                staged.extend(r for r in new if r not in unchanged)
        if not staged and not pruned:
            return
        statements = _CHILD_SQL[child.table]
        await _stage(cur, statements.staging, staged)
        if pruned:
            await cur.execute(statements.delete_missing, [pruned])
        if staged:
            # Unchanged rows (staged only to be kept) match the WHERE and write nothing.
            await cur.execute(statements.upsert)

    async def _upsert_consignments(self, cur: Cursor, rows: list[ConsignmentRow]) -> set[str]:
        await _stage(cur, _CONSIGNMENT_STAGING, rows)
        await cur.execute(_UPSERT_CONSIGNMENTS)
        return {str(row[0]) for row in await cur.fetchall()}

    async def _insert_alerts(self, cur: Cursor, alerts: Sequence[AlertRow]) -> set[str]:
        if not alerts:
            return set()
        rows = [
            (
                a.kind,
                a.consignment_id,
                a.carrier_id,
                a.location,
                a.occurred_at,
                a.raised_at,
                a.detail,
                a.key,
            )
            for a in alerts
        ]
        await cur.execute(_INSERT_ALERTS, _columns(rows, 8))
        return {row[0] for row in await cur.fetchall()}


__all__ = ["DEFAULT_COPY_THRESHOLD", "BatchResult", "WriteRepository"]
