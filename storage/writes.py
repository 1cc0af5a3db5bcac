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
from typing import Any
from uuid import UUID

from psycopg import AsyncCursor, sql
from psycopg.rows import TupleRow

from corridor.alerts import WITHDRAWABLE_KINDS, current_alert_keys
from corridor.events import TransitEvent
from corridor.model import Timeline
from corridor.reference import CorridorReference
from storage import write_sql
from storage.db import Pool
from storage.progress import DatabaseBehind, Partition, PartitionProgress
from storage.rows import (
    AlertRow,
    ApiKeyRow,
    ConsignmentRow,
    EventRow,
    TimelineRows,
    event_row,
    timeline_rows,
)

Cursor = AsyncCursor[TupleRow]

# Below this many events, one executemany (pipelined) beats creating and filling staging.
DEFAULT_COPY_THRESHOLD = 500


async def _stage(
    cur: Cursor, staging: tuple[sql.Composed, sql.Composed], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Fill a staging table (see `write_sql.staging`) with rows, creating it on first use."""
    create, copy_rows = staging
    await cur.execute(create)
    async with cur.copy(copy_rows) as copy:
        for row in rows:
            await copy.write_row(row)


async def _stored_offsets(cur: Cursor, partitions: Sequence[Partition]) -> dict[Partition, int]:
    await cur.execute(write_sql.STORED_OFFSETS, _columns(sorted(partitions), 2))
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
        withdrawn_at: datetime | None = None,
    ) -> BatchResult:
        """Events, timelines and alerts of one batch, all in one transaction.

        `stored` may give, per consignment, the rows it holds now (as a caller that wrote
        them knows: `BatchResult.written`); only the stays, crossings and legs that differ
        are then written. Without it, a consignment's child rows are replaced whole.
        `progress` gives, per (topic, partition) the batch read, its newest event time and
        next offset. `expected_offsets`: the next offsets the caller knows the database
        holds at least; raises `DatabaseBehind`, writing nothing, if it holds less.

        Each consignment whose rows took the batch's timeline has its open alerts that the
        timeline no longer supports (`corridor.alerts.current_alert_keys`) withdrawn, at
        `withdrawn_at` (default: the transaction's time); the alerts of a timeline the
        rows did not take (they hold a newer one) are not raised.
        """
        rows = [timeline_rows(timeline, self._reference) for timeline in timelines]
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            if expected_offsets:
                await _check_not_behind(cur, expected_offsets)
            inserted = await self._insert_events(cur, [event_row(e) for e in events])
            written = await self._upsert_timelines(cur, rows, stored or {})
            stale = {t.consignment_id for t in timelines} - written.keys()
            raised = await self._insert_alerts(
                cur, [a for a in alerts if a.consignment_id not in stale]
            )
            # The timelines whose rows were written (of several for one consignment, one).
            rewritten = [
                t
                for t, r in zip(timelines, rows, strict=True)
                if written.get(t.consignment_id) is r
            ]
            await self._withdraw_alerts(cur, rewritten, withdrawn_at)
            if progress:
                await cur.execute(
                    write_sql.RECORD_PROGRESS,
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
                write_sql.INSERT_API_KEY,
                (key.name, key.role.value, key.prefix, key.key_hash, locations, key.carrier_id),
            )
            row = await cursor.fetchone()
        assert row is not None
        key_id: UUID = row[0]
        return key_id

    async def revoke_api_key(self, key_id: UUID, revoked_at: datetime) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(write_sql.REVOKE_API_KEY, (revoked_at, key_id))
            return cursor.rowcount == 1

    # ------------------------------------------------------------------------- batches

    async def _insert_events(self, cur: Cursor, rows: list[EventRow]) -> int:
        if not rows:
            return 0
        if len(rows) < self._copy_threshold:
            await cur.executemany(write_sql.INSERT_EVENT, rows)
            return max(cur.rowcount, 0)
        await _stage(cur, write_sql.EVENT_STAGING, rows)
        await cur.execute(write_sql.MERGE_STAGING)
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
            await self._sync(cur, write_sql.STAYS, chosen, before, lambda rows: rows.stays)
            await self._sync(cur, write_sql.CROSSINGS, chosen, before, lambda rows: rows.crossings)
            await self._sync(cur, write_sql.LEGS, chosen, before, lambda rows: rows.legs)
        return {rows.consignment.consignment_id: rows for rows in chosen}

    async def _sync(
        self,
        cur: Cursor,
        child: write_sql.Child,
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
        statements = write_sql.CHILD_SQL[child.table]
        await _stage(cur, statements.staging, staged)
        if pruned:
            await cur.execute(statements.delete_missing, [pruned])
        if staged:
            # Unchanged rows (staged only to be kept) match the WHERE and write nothing.
            await cur.execute(statements.upsert)

    async def _upsert_consignments(self, cur: Cursor, rows: list[ConsignmentRow]) -> set[str]:
        await _stage(cur, write_sql.CONSIGNMENT_STAGING, rows)
        await cur.execute(write_sql.UPSERT_CONSIGNMENTS)
        return {str(row[0]) for row in await cur.fetchall()}

    async def _withdraw_alerts(
        self, cur: Cursor, rewritten: Sequence[Timeline], at: datetime | None
    ) -> None:
        if not rewritten:
            return
        current = [key for t in rewritten for key in current_alert_keys(t)]
        await cur.execute(
            write_sql.WITHDRAW_ALERTS,
            {
                "at": at,
                "consignments": sorted(t.consignment_id for t in rewritten),
                "kinds": sorted(kind.value for kind in WITHDRAWABLE_KINDS),
                "current": current,
            },
        )

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
        await cur.execute(write_sql.INSERT_ALERTS, _columns(rows, 8))
        return {row[0] for row in await cur.fetchall()}


__all__ = ["DEFAULT_COPY_THRESHOLD", "BatchResult", "WriteRepository"]
