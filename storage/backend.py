"""Which database backend the schema is built for: TimescaleDB when usable, else PostgreSQL."""

from __future__ import annotations

from enum import StrEnum

import psycopg
from psycopg.rows import TupleRow


class Backend(StrEnum):
    TIMESCALEDB = "timescaledb"
    POSTGRESQL = "postgresql"


def detect_backend(conn: psycopg.Connection[TupleRow]) -> Backend:
    """TimescaleDB only if it is installed *and* loadable (it needs shared_preload_libraries).

    Listed in ``pg_available_extensions`` is not enough: without the preload, ``CREATE
    EXTENSION`` fails, and the schema must then take the plain PostgreSQL path.
    """
    listed = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    if listed is None:
        return Backend.POSTGRESQL
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error:
        return Backend.POSTGRESQL
    return Backend.TIMESCALEDB
