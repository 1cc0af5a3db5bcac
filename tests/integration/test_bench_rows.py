"""The bench's row watch: done only when every row is committed, timed by the last commit."""

from __future__ import annotations

import time
from collections.abc import Iterator

import psycopg
import pytest

from bench.rows import COMMIT_TIMESTAMPS, RowWatch
from storage.migrate import migrate
from tests.fixtures.postgres import scratch_cluster

pytestmark = pytest.mark.integration

_INSERT = """
INSERT INTO transit_events (event_id, occurred_at, event_type, location, consignment_id,
                            carrier_id, source_system, fingerprint, payload)
SELECT gen_random_uuid(), now(), 'gate.arrived', 'KZ-KHORGOS', 'C-' || n, 'KZ-CARRIER',
       'gate', 'f' || n, '{}'::jsonb
FROM generate_series(1, %s) AS n
"""


@pytest.fixture(scope="module")
def bench_like_database() -> Iterator[str]:
    """A database on a cluster configured as the bench's is: commit timestamps kept."""
    with scratch_cluster("rows", COMMIT_TIMESTAMPS) as cluster:
        cluster.start()
        cluster.wait_ready(timeout=60)
        cluster.create_database("rows")
        migrate(cluster.dsn("rows"))
        yield cluster.dsn("rows")


def _insert(dsn: str, rows: int, *, commit: bool = True) -> None:
    # A connection of its own, closed after: a backend flushes its insert counts on exit.
    with psycopg.connect(dsn) as conn:
        conn.execute(_INSERT, [rows])
        if not commit:
            conn.rollback()


def _reached_within(watch: RowWatch, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if watch.reached():
            return True
        time.sleep(0.05)
    return False


def test_done_is_timed_by_the_last_commit_not_by_the_poll(bench_like_database: str) -> None:
    with psycopg.connect(bench_like_database, autocommit=True) as conn:
        watch = RowWatch(conn, total=5)
        assert watch.cheap
        _insert(bench_like_database, 3)
        # Rolled-back rows count as inserted in PostgreSQL's statistics, not as rows.
        _insert(bench_like_database, 2, commit=False)
        assert not _reached_within(watch, 1.0)

        before_commit = time.time()
        _insert(bench_like_database, 2)
        committed_by = time.time()
        time.sleep(1.0)  # the watch looks late; the figure must not move with it
        assert _reached_within(watch, 15.0)
        assert before_commit <= watch.finished_at() <= committed_by


def test_without_commit_timestamps_it_counts_and_times_what_it_saw(
    fresh_database_url: str,
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        watch = RowWatch(conn, total=4)
        assert not watch.cheap  # the test cluster keeps no commit timestamps
        _insert(fresh_database_url, 3)
        assert not watch.reached()
        _insert(fresh_database_url, 1)
        before_look = time.time()
        assert watch.reached()
        assert before_look <= watch.finished_at() <= time.time()
