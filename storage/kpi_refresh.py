"""Refresh of the KPI aggregates where they are plain materialized views.

On plain PostgreSQL (and TimescaleDB's Apache edition) the ``*_hourly``/``*_daily`` KPI
relations are materialized views, refreshed here with ``REFRESH ... CONCURRENTLY`` so
readers are never blocked. On TimescaleDB proper they are continuous aggregates kept up
to date by their own policies; they are not in ``pg_matviews`` and are skipped.
``leg_time_daily`` is a materialized view on both backends (``legs`` is no hypertable).
``location_dwell_weekly`` is rolled up from ``location_dwell_daily`` (a hierarchical
continuous aggregate on TimescaleDB), so it is refreshed after it.
"""

from __future__ import annotations

import asyncio
import logging
import time

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.rows import TupleRow

# In refresh order: a roll-up after the view it rolls up.
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


async def refresh_kpi_views(conn: AsyncConnection[TupleRow]) -> tuple[str, ...]:
    """Refresh each KPI materialized view in its own transaction, in ``REFRESH_ORDER``;
    returns those refreshed."""
    cursor = await conn.execute(
        "SELECT matviewname::text, ispopulated FROM pg_matviews"
        " WHERE schemaname = current_schema() AND matviewname = ANY(%(views)s)"
        " ORDER BY array_position(%(views)s, matviewname::text)",
        {"views": list(REFRESH_ORDER)},
    )
    refreshed = []
    for name, populated in await cursor.fetchall():
        # CONCURRENTLY needs a populated view; the first refresh of an unpopulated one cannot.
        mode = sql.SQL("CONCURRENTLY ") if populated else sql.SQL("")
        started = time.monotonic()
        async with conn.transaction():
            await conn.execute(
                sql.SQL("REFRESH MATERIALIZED VIEW {}{}").format(mode, sql.Identifier(name))
            )
        log.debug("refreshed %s in %.3fs", name, time.monotonic() - started)
        refreshed.append(str(name))
    return tuple(refreshed)


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
        except (OSError, psycopg.OperationalError) as error:
            log.warning("KPI refresh failed, retrying next round: %s", error)
        await asyncio.sleep(max(0.0, every - (time.monotonic() - started)))
