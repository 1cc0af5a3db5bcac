"""`AcceptedEvents` shared by every ingest process: this process's recent receipts in
front of the database's, so that a re-send answered by another process behind the same
address is reported as a duplicate, not accepted again.

The database is asked only for ids this process has not accepted itself. A receipt is
written after Kafka acked the event and before the 2xx: a 2xx still means durably in
Kafka, whatever the database says. When the database does not answer, ingest carries on
as a process of its own (a missed re-send is absorbed by the idempotent tracker).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Protocol

import psycopg
from psycopg_pool import PoolTimeout

from services.ingest.intake import RecentEvents

log = logging.getLogger(__name__)

# Prune receipts past their retention once in so many writes, not on every request.
PRUNE_EVERY_WRITES = 1_000
# A request waits no longer than this for the receipts: they only sharpen the answer.
RECEIPTS_TIMEOUT_SECONDS = 2.0
UNAVAILABLE = (psycopg.Error, PoolTimeout, TimeoutError)


class StoredReceipts(Protocol):
    """The receipts every ingest process writes (`storage.receipts.ReceiptRepository`)."""

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]: ...

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None: ...

    async def prune(self, older_than: timedelta) -> int: ...


class SharedAcceptedEvents:
    def __init__(
        self,
        receipts: StoredReceipts,
        retention: timedelta,
        local: RecentEvents | None = None,
    ) -> None:
        self._receipts = receipts
        self._retention = retention
        self._local = local or RecentEvents()
        self._writes = 0

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]:
        known = await self._local.fingerprints(event_ids)
        elsewhere = [event_id for event_id in event_ids if event_id not in known]
        if elsewhere:
            try:
                known.update(
                    await asyncio.wait_for(
                        self._receipts.fingerprints(elsewhere), RECEIPTS_TIMEOUT_SECONDS
                    )
                )
            except UNAVAILABLE as exc:
                log.warning("receipts unreadable, re-sends to other processes missed: %s", exc)
        return known

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None:
        await self._local.remember(accepted)
        try:
            await asyncio.wait_for(self._receipts.remember(accepted), RECEIPTS_TIMEOUT_SECONDS)
            self._writes += 1
            if self._writes % PRUNE_EVERY_WRITES == 0:
                await self._receipts.prune(self._retention)
        except UNAVAILABLE as exc:
            log.warning("receipts not written, other processes will accept re-sends: %s", exc)
