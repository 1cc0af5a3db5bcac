"""Ingest's receipts: the events it has accepted, shared by every ingest process."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from uuid import UUID

from storage.db import Pool

_FINGERPRINTS = """
SELECT event_id::text, fingerprint FROM ingest_receipts WHERE event_id = ANY(%s::uuid[])
"""

_REMEMBER = """
INSERT INTO ingest_receipts (event_id, fingerprint)
SELECT * FROM unnest(%s::uuid[], %s::text[])
ORDER BY 1, 2
ON CONFLICT DO NOTHING
"""

_PRUNE = "DELETE FROM ingest_receipts WHERE accepted_at < now() - %s"


class ReceiptRepository:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]:
        """The contents accepted so far under each of `event_ids` (absent: none)."""
        known: dict[str, set[str]] = {}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_FINGERPRINTS, ([UUID(i) for i in event_ids],))
            for event_id, fingerprint in await cursor.fetchall():
                known.setdefault(event_id, set()).add(fingerprint)
        return known

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None:
        """Record (event id, fingerprint) pairs as accepted."""
        ids = [UUID(event_id) for event_id, _ in accepted]
        async with self._pool.connection() as conn:
            await conn.execute(_REMEMBER, (ids, [fingerprint for _, fingerprint in accepted]))

    async def prune(self, older_than: timedelta) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_PRUNE, (older_than,))
            return cursor.rowcount
