"""Connection pool factory and the start-up wait for the database.

Nothing here connects at import or construction time: the pool opens when the wiring code
enters it (``async with create_pool(dsn) as pool``) or calls ``await pool.open()``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias, TypeVar

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

Pool: TypeAlias = AsyncConnectionPool[AsyncConnection[TupleRow]]
T = TypeVar("T")

log = logging.getLogger(__name__)


class DatabaseUnavailableError(RuntimeError):
    """The database did not accept a connection and a ``SELECT 1`` within the timeout."""


def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, name: str = "corridor") -> Pool:
    """An unopened async pool; every session runs in UTC so date buckets are stable."""
    return AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        name=name,
        open=False,
        kwargs={"options": "-c timezone=UTC"},
        check=AsyncConnectionPool.check_connection,
    )


async def wait_for_database(dsn: str, timeout: float = 30.0) -> None:  # noqa: ASYNC109
    """Retry connect + ``SELECT 1`` with backoff until it works or ``timeout`` passes."""
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(timeout),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception_type(psycopg.OperationalError),
            before_sleep=lambda state: log.info(
                "database not ready (attempt %d): %s",
                state.attempt_number,
                state.outcome.exception() if state.outcome else None,
            ),
        ):
            with attempt:
                conn = await psycopg.AsyncConnection.connect(dsn, connect_timeout=5)
                async with conn:
                    await conn.execute("SELECT 1")
    except RetryError as error:
        cause = error.last_attempt.exception()
        raise DatabaseUnavailableError(
            f"database not reachable after {timeout:g}s: {cause}; is PostgreSQL running "
            f"(`python -m infra.postgres up`) and DATABASE_URL right?"
        ) from cause


async def with_pool(dsn: str, name: str, work: Callable[[Pool], Awaitable[T]]) -> T:
    """`work` on a one-connection pool, closed after: what a command line needs."""
    async with create_pool(dsn, min_size=1, max_size=1, name=name) as pool:
        return await work(pool)
