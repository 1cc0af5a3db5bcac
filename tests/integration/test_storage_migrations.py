"""Migrations on a real PostgreSQL: from empty, re-run, concurrent, tampered, backend."""

from __future__ import annotations

import re
import shutil
import threading
from pathlib import Path

import psycopg
import pytest
from psycopg.rows import TupleRow

from storage.backend import Backend, detect_backend
from storage.kpi_refresh import KPI_VIEWS
from storage.migrate import MIGRATIONS_DIR, MigrationError, discover, migrate
from tests.fixtures.postgres import server_backend

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

SHARED_RELATIONS = {
    "transit_events",
    "consignments",
    "stays",
    "crossings",
    "legs",
    "alerts",
    "api_keys",
    "corridor_meta",
    "schema_migrations",
    "location_dwell_hourly",
    "location_dwell_daily",
    "location_dwell_weekly",
    "crossing_time_hourly",
    "crossing_time_daily",
    "stays_in_progress",
    "location_queue_now",
    "crossings_in_progress",
}


def _relations(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm', 'p')"
        ).fetchall()
    return {str(row[0]) for row in rows}


def _applied(dsn: str) -> list[tuple[int, str]]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT version, checksum FROM schema_migrations ORDER BY version"
        ).fetchall()
    return [(int(v), str(c)) for v, c in rows]


def test_from_empty_then_rerun_is_a_no_op(empty_database_url: str) -> None:
    first = migrate(empty_database_url)
    assert first.backend is server_backend(empty_database_url)
    assert len(first.applied) == len(discover(first.backend))
    assert _relations(empty_database_url) >= SHARED_RELATIONS
    before = _applied(empty_database_url)

    second = migrate(empty_database_url)

    assert second.applied == ()
    assert second.already_applied == len(first.applied)
    assert _applied(empty_database_url) == before


def test_two_concurrent_migrators_apply_each_migration_once(empty_database_url: str) -> None:
    reports = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            reports.append(migrate(empty_database_url))
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    applied = sorted(len(report.applied) for report in reports)
    assert applied == [0, len(discover(Backend.POSTGRESQL))]
    assert len(_applied(empty_database_url)) == applied[1]


def test_changed_applied_migration_is_an_error(empty_database_url: str, tmp_path: Path) -> None:
    copy = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, copy)
    migrate(empty_database_url, copy)
    core = copy / "0001_core.sql"
    core.write_text(core.read_text() + "\n-- an edit after the fact\n")

    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(empty_database_url, copy)


def test_backend_is_detected_and_recorded(empty_database_url: str) -> None:
    expected = server_backend(empty_database_url)
    with psycopg.connect(empty_database_url, autocommit=True) as conn:
        assert detect_backend(conn) is expected
    migrate(empty_database_url)
    with psycopg.connect(empty_database_url) as conn:
        row = conn.execute("SELECT value FROM corridor_meta WHERE key = 'backend'").fetchone()
    assert row == (expected.value,)


def test_both_backends_define_the_same_columns() -> None:
    """Cheap guard without TimescaleDB: each backend file names the same tables/columns."""
    for pg, ts in zip(discover(Backend.POSTGRESQL), discover(Backend.TIMESCALEDB), strict=True):
        assert pg.version == ts.version
        if pg.filename == ts.filename:
            continue  # one file for both backends (0012 builds every rollup from one text)
        for table in ("transit_events", "stays", "crossings"):
            if f"CREATE TABLE {table}" in pg.sql:
                assert _columns_of(pg.sql, table) == _columns_of(ts.sql, table)
        for view in KPI_VIEWS:
            if f"MATERIALIZED VIEW {view}" in pg.sql:
                assert f"MATERIALIZED VIEW {view}" in ts.sql
                # Every definition (TimescaleDB's continuous aggregate and its fallback)
                # has the PostgreSQL view's columns, in its order.
                (columns,) = _view_columns(pg.sql, view)
                assert _view_columns(ts.sql, view) == [columns, columns], view


# The rollups' columns and types, the same on every backend (dashboards and reads rely on
# them): per bucket and group, exact counts, sum, mean, max, median and p90, and on the
# daily rollups the sketches that add up over days.
_DURATION = ("completed_count", "in_progress_count")
_SKETCH = (("_sketch_keys", "integer[]"), ("_sketch_counts", "bigint[]"))


def _duration_columns(metric: str, sketch: bool, screened: bool = False) -> list[tuple[str, str]]:
    """`screened`: stays, whose rollups also count what a plausibility rule voided."""
    return [
        *((name, "bigint") for name in _DURATION),
        (f"{metric}_sum_seconds", "bigint"),
        (f"{metric}_mean_seconds", "double precision"),
        (f"{metric}_max_seconds", "integer"),
        *((("excluded_count", "bigint"),) if screened else ()),
        (f"{metric}_median_seconds", "double precision"),
        (f"{metric}_p90_seconds", "double precision"),
        *(((f"{metric}{suffix}", kind) for suffix, kind in _SKETCH) if sketch else ()),
    ]


_TIME = [("bucket", "timestamp with time zone")]
_STAY_GROUP = [("location", "text"), ("mode", "text"), ("direction", "text")]
_CROSSING_GROUP = [("border_id", "text"), ("direction", "text"), ("mode", "text")]
ROLLUP_COLUMNS = {
    "location_dwell_hourly": [
        *_TIME,
        *_STAY_GROUP,
        ("stays_count", "bigint"),
        *_duration_columns("dwell", False, screened=True),
    ],
    "location_dwell_daily": [
        *_TIME,
        *_STAY_GROUP,
        ("stays_count", "bigint"),
        *_duration_columns("dwell", True, screened=True),
    ],
    "location_dwell_weekly": [
        *_TIME,
        ("location", "text"),
        ("stays_count", "bigint"),
        *_duration_columns("dwell", False, screened=True),
    ],
    "crossing_time_hourly": [
        *_TIME,
        *_CROSSING_GROUP,
        ("crossings_count", "bigint"),
        *_duration_columns("tfi1", False),
    ],
    "crossing_time_daily": [
        *_TIME,
        *_CROSSING_GROUP,
        ("crossings_count", "bigint"),
        *_duration_columns("tfi1", True),
    ],
}


def test_rollups_have_the_same_columns_on_every_backend(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        for name, expected in ROLLUP_COLUMNS.items():
            columns = _relation_shape(conn, name)[1 : 1 + len(expected)]
            assert columns == expected, name


def _relation_shape(conn: psycopg.Connection[TupleRow], name: str) -> list[tuple[str, ...]]:
    """Kind, then each column's name and type, then each index's definition."""
    kind = conn.execute("SELECT relkind::text FROM pg_class WHERE relname = %s", (name,))
    columns = conn.execute(
        "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (name,),
    )
    indexes = conn.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = %s ORDER BY indexname", (name,)
    )
    return [*kind.fetchall(), *columns.fetchall(), *indexes.fetchall()]


def test_view_columns_are_read_from_the_select_list() -> None:
    script = """CREATE MATERIALIZED VIEW v AS
SELECT
    date_trunc('week', bucket, 'UTC') AS bucket,
    location,
    ARRAY[
        sum(h[1]),
        sum(h[2])
    ]::bigint[] AS histogram,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY x)
        FILTER (WHERE a AND b) AS median
FROM t
GROUP BY 1, 2
WITH DATA;"""
    assert _view_columns(script, "v") == [["bucket", "location", "histogram", "median"]]


def _view_columns(script: str, view: str) -> list[list[str]]:
    """The output column names of each definition of materialized view ``view``."""
    definitions = []
    for definition in re.split(rf"MATERIALIZED VIEW {view}\b", script)[1:]:
        select_list = definition.split("SELECT", 1)[1].split("\nFROM ", 1)[0]
        items, depth, current = [], 0, ""
        for char in select_list:  # split on the commas outside parentheses and brackets
            if char in "([":
                depth += 1
            elif char in ")]":
                depth -= 1
            if char == "," and depth == 0:
                items.append(current)
                current = ""
            else:
                current += char
        items.append(current)
        definitions.append([item.split()[-1] for item in items])  # the alias, or the column
    return definitions


def _columns_of(script: str, table: str) -> list[str]:
    body = script.split(f"CREATE TABLE {table} (", 1)[1].split("\n);", 1)[0]
    return [
        line.split()[0]
        for line in body.splitlines()
        if line.strip()
        and not line.strip().startswith(("--", "PRIMARY", "UNIQUE", "CHECK"))
        and line.startswith("    ")
        and not line.startswith("     ")
    ]
