"""The tracker's database side: storage repositories behind retries that wait out outages.

A database restart must not lose or skip a batch: every call retries with backoff
until the database answers again, and the partition waits meanwhile. A database restored
from an earlier backup must not either: the store remembers the next offset it knows the
database holds per partition, and a batch finding less there is refused (`DatabaseBehind`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import psycopg
from psycopg_pool import PoolTimeout
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from corridor.alerts import Alert
from corridor.events import TransitEvent
from corridor.model import Stay, Timeline
from corridor.reference import CorridorReference
from storage.aliases import AliasRepository
from storage.db import create_pool
from storage.dead_letters import DeadLetter, DeadLetterRepository
from storage.progress import Partition, PartitionProgress
from storage.queries.tracker import TrackerQueries
from storage.rows import AlertRow, TimelineRows
from storage.writes import WriteRepository

log = logging.getLogger(__name__)

T = TypeVar("T")

# What the database does while it restarts or is unreachable: waited out, never raised.
RETRIED = (psycopg.OperationalError, PoolTimeout)


def new_alert(alert: Alert, raised_at: datetime) -> AlertRow:
    return AlertRow(
        kind=alert.kind.value,
        occurred_at=alert.occurred_at,
        raised_at=raised_at,
        consignment_id=alert.consignment_id,
        carrier_id=alert.carrier_id,
        location=alert.location,
        detail=alert.detail,
        dedup_key=alert.dedup_key,
    )


class PostgresTrackingStore:
    def __init__(
        self,
        dsn: str,
        reference: CorridorReference,
        retry_max_seconds: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._pool = create_pool(dsn, min_size=1, max_size=4, name="tracker")
        self._writes = WriteRepository(self._pool, reference)
        self._queries = TrackerQueries(self._pool)
        self._dead_letters = DeadLetterRepository(self._pool)
        self._aliases = AliasRepository(self._pool)
        self._retry_max_seconds = retry_max_seconds
        self._clock = clock
        self._opened = False
        # Per partition, the next offset this process knows the database holds at least.
        self._known_offsets: dict[Partition, int] = {}

    async def open(self) -> None:
        if not self._opened:
            await self._pool.open(wait=False)
            self._opened = True

    async def close(self) -> None:
        if self._opened:
            await self._pool.close()
            self._opened = False

    async def _patiently(self, operation: Callable[[], Awaitable[T]]) -> T:
        await self.open()
        # The usual first success builds no retry state: tenacity's leaves reference
        # cycles, garbage only a full collection frees, and the worker runs one rarely
        # (services/tracker/gc_pacing.py).
        try:
            return await operation()
        except RETRIED as exc:
            log.warning("database unavailable, retrying: %s", exc)
        async for attempt in AsyncRetrying(
            wait=wait_exponential(multiplier=0.5, max=self._retry_max_seconds),
            retry=retry_if_exception_type(RETRIED),
            before_sleep=lambda state: log.warning(
                "database unavailable (attempt %d), waiting: %s",
                state.attempt_number,
                state.outcome.exception() if state.outcome else None,
            ),
        ):
            with attempt:
                return await operation()
        raise AssertionError("unreachable: the retry loop never stops by itself")

    async def load_events(self, consignment_ids: Sequence[str]) -> dict[str, list[TransitEvent]]:
        return await self._patiently(lambda: self._queries.events_of(consignment_ids))

    async def aliases_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        return await self._patiently(lambda: self._aliases.aliases_of(consignment_ids))

    async def merge(self, links: Mapping[str, str]) -> dict[str, str]:
        return await self._patiently(lambda: self._aliases.merge(links))

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, TimelineRows],
        progress: Mapping[Partition, PartitionProgress],
    ) -> Mapping[str, TimelineRows]:
        raised_at = self._clock()
        rows = [new_alert(alert, raised_at) for alert in alerts]
        known = self._known_offsets
        expected = {tp: known[tp] for tp in progress if tp in known}
        result = await self._patiently(
            lambda: self._writes.write_batch(
                events, timelines, rows, stored, progress, expected, withdrawn_at=raised_at
            )
        )
        for tp, done in progress.items():
            known[tp] = max(done.next_offset, known.get(tp, 0))
        return result.written

    async def resume_points(self, partitions: Sequence[Partition]) -> dict[Partition, int]:
        """The next offset the database holds for each of `partitions` just assigned, which
        this process then expects it to keep holding at least."""
        offsets = await self._patiently(lambda: self._writes.stored_offsets(partitions))
        self._known_offsets.update(offsets)
        return offsets

    def forget_offsets(self) -> None:
        """Partitions revoked: whoever reads them next may be given a restored database."""
        self._known_offsets.clear()

    async def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store alerts in one statement; return the ones that were new (the rest were
        raised before: a scan offers every overdue stay again each time)."""
        raised_at = self._clock()
        rows = [new_alert(alert, raised_at) for alert in alerts]
        new_keys = await self._patiently(lambda: self._writes.raise_alerts(rows))
        return [alert for alert, row in zip(alerts, rows, strict=True) if row.key in new_keys]

    async def add_dead_letters(
        self, letters: Sequence[DeadLetter], alerts: Sequence[AlertRow]
    ) -> None:
        failed_at = self._clock()
        await self._patiently(lambda: self._dead_letters.add(letters, failed_at))
        await self._patiently(lambda: self._writes.raise_alerts(alerts))

    async def watermark(self) -> datetime | None:
        return await self._patiently(self._queries.watermark)

    async def open_stays(self) -> list[tuple[Stay, str | None]]:
        return await self._patiently(self._queries.open_stays)

    async def recent_p90_by_location(self, now: datetime) -> dict[str, tuple[float, int]]:
        return await self._patiently(lambda: self._queries.recent_p90_by_location(now))
