"""PostgreSQL restored from a backup taken earlier in the run, while the tracker is newer.

The tracker keeps each partition's next offset in the database with the rows. Here the
database is copied mid-replay (the backup), the same worker goes on storing, then the
database is replaced by the copy: the events stored between backup and restore are gone
while the consumer group has committed past them. The worker must notice by itself (no
offset reset, no restart), read those partitions again from the database's offsets, and
end with the database equal to the simulator's ground truth, with no duplicated rows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from infra.kafka.topics import ensure_topics, topic_specs
from simulator import FaultRates, SimulationConfig, simulate
from tests.integration.tracker_harness import (
    TrackerWorkers,
    first_difference,
    produce,
    stored_event_count,
    truth_snapshot,
    wait_until_converged,
)

pytestmark = pytest.mark.integration

CONFIG = SimulationConfig(
    seed=47, consignments=80, days=20, faults=FaultRates(duplicate=0.03, late=0.02)
)


class PatientWorkers(TrackerWorkers):
    """Tracker workers that retry the database every second at most (default 30 s)."""

    def env(self, index: int) -> dict[str, str]:
        return {**super().env(index), "TRACKER_DB_RETRY_MAX_SECONDS": "1"}


def _copy_database(admin_dsn: str, source: str, target: str) -> None:
    """A file-level copy of `source` as `target`, with `source`'s sessions cut off."""
    source_id, target_id = sql.Identifier(source), sql.Identifier(target)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(source_id))
        try:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (source,),
            )
            conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(target_id, source_id))
        finally:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(source_id))


def _restore(admin_dsn: str, backup: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
    _copy_database(admin_dsn, backup, database)


def _drop(admin_dsn: str, database: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        )


async def _wait_for_stored(workers: TrackerWorkers, at_least: int) -> int:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        stored = await asyncio.to_thread(stored_event_count, workers.database_url)
        if stored >= at_least:
            return stored
        assert workers.alive(), workers.logs()
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} events stored:\n{workers.logs()}")


@pytest.mark.timeout(400)
async def test_a_database_restored_from_an_earlier_backup_is_caught_up_by_the_same_worker(
    kafka_bootstrap: str,
    topic_prefix: str,
    postgres_dsn_base: str,
    fresh_database_url: str,
    tmp_path: Path,
) -> None:
    prefix = f"{topic_prefix}restore{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    topic = f"{prefix}transit-events"
    result = simulate(CONFIG)
    events = [delivery.event for delivery in result.deliveries]
    third = len(events) // 3
    database = conninfo_to_dict(fresh_database_url)["dbname"]
    assert isinstance(database, str)
    backup = f"{database}_backup"
    workers = PatientWorkers(kafka_bootstrap, prefix, fresh_database_url, tmp_path / "w")
    try:
        await produce(kafka_bootstrap, topic, events[:third])
        workers.start()
        in_backup = await _wait_for_stored(workers, len({e.event_id for e in events[:third]}))
        await asyncio.to_thread(_copy_database, postgres_dsn_base, database, backup)
        await produce(kafka_bootstrap, topic, events[third : 2 * third])
        # The worker stores (and the group commits) past the backup.
        await _wait_for_stored(workers, len({e.event_id for e in events[: 2 * third]}))

        await asyncio.to_thread(_restore, postgres_dsn_base, backup, database)
        assert await asyncio.to_thread(stored_event_count, fresh_database_url) == in_backup
        await produce(kafka_bootstrap, topic, events[2 * third :])

        expected = truth_snapshot(result.truth)
        distinct = len({e.event_id for e in events})
        snapshot = await wait_until_converged(workers, expected, distinct, within_seconds=240)
        for key in ("states", "stays", "crossings", "legs"):
            assert snapshot[key] == expected[key], (
                f"{key}: {first_difference(snapshot[key], expected[key])}\n{workers.logs()}"
            )
        versions = {(str(e.event_id), e.occurred_at) for e in events}
        assert snapshot["raw_events"] == (len(versions), distinct)
        assert workers.alive(), "the same worker process caught up"
        assert "reading those partitions again" in workers.log_of(0)
    finally:
        workers.stop_all()
        await asyncio.to_thread(_drop, postgres_dsn_base, backup)
