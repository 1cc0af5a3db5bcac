"""The dead-letter table: records the tracker could not store, kept for operators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg.types.json import Jsonb

from storage.db import Pool


@dataclass(frozen=True)
class DeadLetter:
    """A record of the events topic as it was read, and why it could not be stored."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]
    consignment_id: str | None
    error: str


@dataclass(frozen=True)
class StoredDeadLetter:
    id: int
    letter: DeadLetter
    failed_at: datetime
    replayed_at: datetime | None


_INSERT = """
INSERT INTO dead_letters (topic, partition, record_offset, record_key, record_value, headers,
                          consignment_id, error, failed_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (topic, partition, record_offset) DO NOTHING
"""
_SELECT = """
SELECT id, topic, partition, record_offset, record_key, record_value, headers, consignment_id,
       error, failed_at, replayed_at
FROM dead_letters
"""
_LIST = _SELECT + "WHERE id > %s AND (replayed_at IS NULL OR NOT %s) ORDER BY id LIMIT %s"
_GET = _SELECT + "WHERE id = %s"
_MARK_REPLAYED = "UPDATE dead_letters SET replayed_at = %s WHERE id = %s"


class DeadLetterRepository:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def add(self, letters: Sequence[DeadLetter], failed_at: datetime) -> None:
        """Store letters once each (a record read again is not stored twice)."""
        async with self._pool.connection() as conn, conn.cursor() as cur:
            await cur.executemany(
                _INSERT,
                [
                    (
                        letter.topic,
                        letter.partition,
                        letter.offset,
                        letter.key,
                        letter.value,
                        Jsonb([[name, value.hex()] for name, value in letter.headers]),
                        letter.consignment_id,
                        letter.error,
                        failed_at,
                    )
                    for letter in letters
                ],
            )

    async def list(
        self, after_id: int = 0, limit: int = 100, waiting_only: bool = False
    ) -> list[StoredDeadLetter]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_LIST, (after_id, waiting_only, limit))
            return [_stored(row) for row in await cursor.fetchall()]

    async def get(self, letter_id: int) -> StoredDeadLetter | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_GET, (letter_id,))
            row = await cursor.fetchone()
        return _stored(row) if row is not None else None

    async def mark_replayed(self, letter_id: int, replayed_at: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(_MARK_REPLAYED, (replayed_at, letter_id))


def _stored(row: tuple[object, ...]) -> StoredDeadLetter:
    (
        letter_id,
        topic,
        partition,
        offset,
        key,
        value,
        headers,
        consignment,
        error,
        failed,
        replayed,
    ) = row
    assert isinstance(headers, list)
    return StoredDeadLetter(
        id=int(str(letter_id)),
        letter=DeadLetter(
            topic=str(topic),
            partition=int(str(partition)),
            offset=int(str(offset)),
            key=bytes(key) if isinstance(key, (bytes, memoryview)) else None,
            value=bytes(value) if isinstance(value, (bytes, memoryview)) else None,
            headers=tuple((str(name), bytes.fromhex(str(hexed))) for name, hexed in headers),
            consignment_id=consignment if isinstance(consignment, str) else None,
            error=str(error),
        ),
        failed_at=failed,  # type: ignore[arg-type]
        replayed_at=replayed,  # type: ignore[arg-type]
    )
