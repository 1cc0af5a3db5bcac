"""Readiness: whether the database answers."""

from __future__ import annotations

import psycopg
from psycopg_pool import PoolTimeout

from storage.queries.fetch import PooledQueries


class HealthQueries(PooledQueries):
    async def ping(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
        """Whether a pooled connection answers ``SELECT 1`` within ``timeout`` seconds."""
        try:
            async with self._pool.connection(timeout=timeout) as conn:
                await conn.execute("SELECT 1")
        except (psycopg.Error, PoolTimeout):
            return False
        return True
