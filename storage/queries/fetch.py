"""What every read module shares: the pool it reads through, and fetching all rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

from storage.db import Pool

Row = tuple[Any, ...]


async def fetch_all(
    conn: AsyncConnection[TupleRow],
    query: str,
    params: Sequence[Any] | dict[str, Any],
    binary: bool = False,
) -> list[Row]:
    cursor = await conn.execute(query, params, binary=binary)
    return await cursor.fetchall()


class PooledQueries:
    """Base of the read classes: each reads through one connection pool."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
