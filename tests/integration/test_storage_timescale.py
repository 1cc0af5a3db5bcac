"""The TimescaleDB path: hypertables and continuous aggregates where the extension exists.

This machine (and CI) has no TimescaleDB, so the module skips; it documents what the
timescaledb migration files must produce wherever the extension is loadable.
"""

from __future__ import annotations

import psycopg
import pytest

from storage.backend import Backend, detect_backend
from storage.kpi_refresh import KPI_VIEWS
from storage.migrate import migrate

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = [pytest.mark.integration, pytest.mark.timescale]


@pytest.fixture
def timescale_database_url(empty_database_url: str) -> str:
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        if detect_backend(conn) is not Backend.TIMESCALEDB:
            pytest.skip(
                "timescaledb is not available on this server (not in pg_available_extensions, "
                "or not in shared_preload_libraries): the TimescaleDB path is written, not run"
            )
    return empty_database_url


def test_hypertables_and_continuous_aggregates(timescale_database_url: str) -> None:
    report = migrate(timescale_database_url)
    assert report.backend is Backend.TIMESCALEDB
    with psycopg.connect(timescale_database_url) as conn:
        hypertables = {
            str(row[0])
            for row in conn.execute(
                "SELECT hypertable_name FROM timescaledb_information.hypertables"
            ).fetchall()
        }
        license_row = conn.execute("SELECT current_setting('timescaledb.license', true)").fetchone()
        version_row = conn.execute(
            "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
        ).fetchone()
        aggregates = {
            str(row[0]): bool(row[1])
            for row in conn.execute(
                "SELECT view_name, materialized_only"
                " FROM timescaledb_information.continuous_aggregates"
            ).fetchall()
        }
    assert {"transit_events", "stays", "crossings"} <= hypertables
    if license_row == ("apache",):
        assert aggregates == {}  # fell back to materialized views
    else:
        # location_dwell_weekly is hierarchical (on location_dwell_daily): TimescaleDB >= 2.9,
        # else a materialized view over the daily aggregate.
        assert version_row is not None
        major, minor = (int(part) for part in str(version_row[0]).split(".")[:2])
        hierarchical = (major, minor) >= (2, 9)
        expected = set(KPI_VIEWS) - (set() if hierarchical else {"location_dwell_weekly"})
        assert set(aggregates) == expected
        assert not any(aggregates.values())  # real-time aggregation on
