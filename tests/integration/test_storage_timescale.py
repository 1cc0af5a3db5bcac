"""The TimescaleDB path: hypertables, continuous aggregates whose policies materialise
history and late events, compression that still takes late upserts.

Skips where the server has no loadable TimescaleDB (CI runs plain PostgreSQL); run with
``DATABASE_URL`` pointing at a TimescaleDB server (docs/storage.md says which ran).
"""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from psycopg.rows import TupleRow

from storage.backend import Backend
from storage.db import Pool
from storage.kpi_refresh import KPI_VIEWS
from storage.migrate import migrate
from tests.fixtures.postgres import server_backend
from tests.integration.test_storage_kpi import LOCATION, _load_weeks, week_stays
from tests.integration.test_storage_writes import T0, at, make_stay

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = [pytest.mark.integration, pytest.mark.timescale]


@pytest.fixture(autouse=True)
def _timescaledb_only(postgres_dsn_base: str) -> None:
    if server_backend(postgres_dsn_base) is not Backend.TIMESCALEDB:
        pytest.skip(
            "timescaledb is not preloaded on this server: the TimescaleDB path is not run here"
        )


def test_hypertables_and_continuous_aggregates(empty_database_url: str) -> None:
    report = migrate(empty_database_url)
    assert report.backend is Backend.TIMESCALEDB
    with psycopg.connect(empty_database_url) as conn:
        hypertables = {
            str(row[0])
            for row in conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            ).fetchall()
        }
        aggregates: dict[str, bool] = dict(
            conn.execute(
                "SELECT view_name::text, materialized_only"
                " FROM timescaledb_information.continuous_aggregates"
            ).fetchall()
        )
        policies: dict[str, dict[str, object]] = dict(
            conn.execute(
                "SELECT hypertable_name::text, config FROM timescaledb_information.jobs"
                " WHERE proc_name = 'policy_refresh_continuous_aggregate'"
            ).fetchall()
        )
    assert {"transit_events", "stays", "crossings"} <= hypertables
    assert set(aggregates) == set(KPI_VIEWS)
    assert not any(aggregates.values())  # real-time aggregation on
    # No start to the refresh window: history is re-materialised wherever writes land.
    assert set(policies) == set(KPI_VIEWS)
    assert all(config["start_offset"] is None for config in policies.values())


def _run_policies(conn: psycopg.Connection[TupleRow]) -> None:
    jobs = conn.execute(
        "SELECT job_id FROM timescaledb_information.jobs"
        " WHERE proc_name = 'policy_refresh_continuous_aggregate' ORDER BY job_id"
    ).fetchall()
    for (job_id,) in jobs:
        conn.execute("CALL run_job(%s)", (job_id,))


def _materialised(conn: psycopg.Connection[TupleRow], view: str) -> dict[datetime, int]:
    """Bucket -> stays at LOCATION, from what the aggregate materialised only."""
    conn.execute(f"ALTER MATERIALIZED VIEW {view} SET (timescaledb.materialized_only = true)")
    try:
        rows = conn.execute(
            f"SELECT bucket, sum(stays_count)::integer FROM {view}"
            " WHERE location = %s GROUP BY bucket",
            (LOCATION,),
        ).fetchall()
    finally:
        conn.execute(f"ALTER MATERIALIZED VIEW {view} SET (timescaledb.materialized_only = false)")
    return dict(rows)


async def test_policies_materialise_history_and_late_stays_land_in_their_bucket(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    """March is nine months behind the clock here, beyond any fixed start_offset."""
    stays = await _load_weeks(storage_pool)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        _run_policies(conn)
        daily, weekly = (
            _materialised(conn, "location_dwell_daily"),
            _materialised(conn, "location_dwell_weekly"),
        )
        expected_week = sum(
            1 for s in stays if s.location == LOCATION and T0 <= s.arrived_at < at(24 * 7)
        )
        assert weekly[T0] == expected_week
        assert sum(daily.values()) == sum(1 for s in stays if s.location == LOCATION)

        # A late stay on Tuesday of T0's week: not there until a policy runs, then in its
        # own day and week and nowhere else.
        await _load_weeks(storage_pool, [*stays, make_stay("S-9001", LOCATION, 30.0, 40.0)])
        assert _materialised(conn, "location_dwell_daily") == daily
        _run_policies(conn)
        tuesday = at(24)
        assert _materialised(conn, "location_dwell_daily") == daily | {
            tuesday: daily.get(tuesday, 0) + 1
        }
        assert _materialised(conn, "location_dwell_weekly") == weekly | {T0: weekly[T0] + 1}


async def test_compressed_history_takes_late_upserts(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    stays = await _load_weeks(storage_pool, week_stays(60))
    open_stay = next(s for s in stays if s.departed_at is None and s.location == LOCATION)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        compressed = conn.execute(
            "SELECT count(compress_chunk(c)) FROM show_chunks('stays') AS c"
        ).fetchone()
        assert compressed is not None
        assert compressed[0] > 0
    hours = (open_stay.arrived_at - T0).total_seconds() / 3600
    completed = make_stay(open_stay.consignment_id, LOCATION, hours, hours + 5)
    await _load_weeks(storage_pool, [*[s for s in stays if s != open_stay], completed])
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT status, dwell_seconds FROM stays WHERE consignment_id = %s",
            (open_stay.consignment_id,),
        ).fetchone()
        assert row == ("completed", 5 * 3600)
        _run_policies(conn)
        week = conn.execute(
            "SELECT sum(completed_count)::integer FROM location_dwell_weekly WHERE location = %s",
            (LOCATION,),
        ).fetchone()
    assert week == (
        sum(
            1
            for s in [*stays, completed]
            if s.location == LOCATION and s.departed_at and s != open_stay
        ),
    )
