"""Refresh of the KPI rollups, and a record of each run for their "as of".

Plain PostgreSQL (and TimescaleDB's Apache edition): every rollup is a materialized view,
refreshed here with ``REFRESH ... CONCURRENTLY`` so readers are never blocked.
TimescaleDB: the continuous aggregates have refresh policies of their own; this runs
each policy's job too (``CALL run_job``: it re-materialises only what writes
invalidated, so it is cheap when the scheduler has done it) so the rollups stay fresh
even where the scheduler's runs fail, and ``leg_time_daily`` (``legs`` is no
hypertable) is a materialized view on both backends.

Every rollup's outcome goes to ``kpi_rollup_refreshes`` (migration 0013): the start of
its last successful refresh, or one more consecutive failure and the error. A failure
of one rollup does not stop the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

# In refresh order.
KPI_VIEWS = (
    "location_dwell_hourly",
    "location_dwell_daily",
    "location_dwell_weekly",
    "crossing_time_hourly",
    "crossing_time_daily",
)
# Materialized views on every backend, refreshed here alongside KPI_VIEWS.
LEG_VIEWS = ("leg_time_daily",)
REFRESH_ORDER = (*KPI_VIEWS, *LEG_VIEWS)

log = logging.getLogger(__name__)
_CONCURRENT_REFRESH_WAITS = (0.2, 0.5, 1.0)

_MATERIALIZED_VIEWS = """
SELECT matviewname::text, ispopulated, NULL::integer FROM pg_matviews
WHERE schemaname = current_schema() AND matviewname = ANY(%(views)s)
"""
_POLICY_JOBS = """
SELECT hypertable_name::text, true, job_id FROM timescaledb_information.jobs
WHERE proc_name = 'policy_refresh_continuous_aggregate'
  AND hypertable_schema = current_schema() AND hypertable_name = ANY(%(views)s)
"""
_SUCCEEDED = """
INSERT INTO kpi_rollup_refreshes (rollup, refreshed_at, attempted_at, consecutive_failures)
VALUES (%(rollup)s, %(started)s, %(started)s, 0)
ON CONFLICT (rollup) DO UPDATE SET refreshed_at = excluded.refreshed_at,
    attempted_at = excluded.attempted_at, consecutive_failures = 0, last_error = NULL
"""
_FAILED = """
INSERT INTO kpi_rollup_refreshes (rollup, attempted_at, consecutive_failures, last_error)
VALUES (%(rollup)s, %(started)s, 1, %(error)s)
ON CONFLICT (rollup) DO UPDATE SET attempted_at = excluded.attempted_at,
    consecutive_failures = kpi_rollup_refreshes.consecutive_failures + 1,
    last_error = excluded.last_error
"""


async def refresh_kpi_views(conn: AsyncConnection[TupleRow]) -> tuple[str, ...]:
    """Refresh each rollup (``conn`` in autocommit), in ``REFRESH_ORDER``, recording
    each outcome; returns those refreshed."""
    refreshed = []
    for name, populated, job_id in await _rollups(conn):
        started = await _now(conn)
        try:
            await _refresh(conn, name, populated, job_id)
        except psycopg.Error as error:
            if conn.closed:
                raise  # the connection is gone: nothing can be recorded
            log.warning("KPI rollup %s failed to refresh: %s", name, error)
            await conn.execute(_FAILED, {"rollup": name, "started": started, "error": str(error)})
            continue
        await conn.execute(_SUCCEEDED, {"rollup": name, "started": started})
        refreshed.append(name)
    return tuple(refreshed)


async def _rollups(conn: AsyncConnection[TupleRow]) -> list[tuple[str, bool, int | None]]:
    params = {"views": list(REFRESH_ORDER)}
    rows = await (await conn.execute(_MATERIALIZED_VIEWS, params)).fetchall()
    timescale = await (
        await conn.execute("SELECT to_regclass('timescaledb_information.jobs') IS NOT NULL")
    ).fetchone()
    if timescale == (True,):
        rows += await (await conn.execute(_POLICY_JOBS, params)).fetchall()
    return sorted(
        ((str(name), bool(populated), job) for name, populated, job in rows),
        key=lambda row: REFRESH_ORDER.index(row[0]),
    )


async def _now(conn: AsyncConnection[TupleRow]) -> datetime:
    row = await (await conn.execute("SELECT now()")).fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


async def _refresh(
    conn: AsyncConnection[TupleRow], name: str, populated: bool, job_id: int | None
) -> None:
    started = time.monotonic()
    if job_id is not None:
        await _run_job(conn, job_id)
    else:
        # CONCURRENTLY needs a populated view; the first refresh of an unpopulated one cannot.
        mode = sql.SQL("CONCURRENTLY ") if populated else sql.SQL("")
        async with conn.transaction():
            await conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(mode, sql.Identifier(name))
            )
    log.debug("refreshed %s in %.3fs", name, time.monotonic() - started)


async def _run_job(conn: AsyncConnection[TupleRow], job_id: int) -> None:
    """Run a policy's job; while the scheduler runs the same refresh, TimescaleDB refuses a
    second one (lock_not_available): wait for it a few times before calling it a failure."""
    for wait in _CONCURRENT_REFRESH_WAITS:
        try:
            await conn.execute("CALL run_job(%s)", (job_id,))
            return
        except psycopg.errors.LockNotAvailable:
            await asyncio.sleep(wait)
    await conn.execute("CALL run_job(%s)", (job_id,))


async def refresh_forever(dsn: str, every: float) -> None:
    """The scheduler loop of ``python -m storage refresh-views --every N``."""
    while True:
        started = time.monotonic()
        try:
            async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
                refreshed = await refresh_kpi_views(conn)
            log.info(
                "refreshed %s in %.2fs",
                ", ".join(refreshed) or "nothing",
                time.monotonic() - started,
            )
        except (OSError, psycopg.Error) as error:
            log.warning("KPI refresh failed, retrying next round: %s", error)
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
