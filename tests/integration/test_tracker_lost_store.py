"""A tracker worker restarted with its local table store deleted.

The worker keeps the consignments in flight in a changelogged Faust table, stored in
RocksDB on its disk. Here the worker is SIGKILLed after half the consignments and its data directory
deleted, as when a machine is replaced. The worker started again on an empty disk must
rebuild the table from its changelog topic (the table holds exactly the consignments
the simulator's truth has in flight), and the database must equal the truth with no
duplicated rows.
"""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

import faust
import pytest

from corridor.model import ConsignmentState
from corridor.reference import load_reference
from infra.kafka.topics import ensure_topics, topic_specs
from services.tracker.app import create_app
from services.tracker.settings import TrackerSettings
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
    seed=53, consignments=60, days=20, faults=FaultRates(duplicate=0.03, late=0.02)
)
FINAL = {ConsignmentState.COMPLETED, ConsignmentState.CANCELLED}


class RocksDBWorkers(TrackerWorkers):
    """Tracker workers whose table lives on disk, in RocksDB, as in production."""

    def env(self, index: int) -> dict[str, str]:
        return {**super().env(index), "TRACKER_STORE": "rocksdb://"}


def _table_keys(workers: TrackerWorkers) -> set[str]:
    """The consignments the stopped worker's RocksDB table holds, read from its disk."""
    settings = TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted: nothing connects here
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=workers.data_dir / "worker-0",
        tracker_app_id=workers.app_id,
        tracker_store="rocksdb://",
    )
    app: faust.App = create_app(settings, load_reference())
    table: Any = app.tables["consignment-states"]
    store = table.data
    keys: set[str] = set()
    for partition in range(settings.tracker_partitions):
        path = store.partition_path(partition)
        if path.exists():
            db = store.rocksdb_options.open(path)
            try:
                keys.update(key.decode() for key in db.keys())  # noqa: SIM118 (an Rdict)
            finally:
                db.close()
    return {key for key in keys if not key.startswith("__faust")}  # its offset bookkeeping


async def _wait_for_stored(workers: TrackerWorkers, at_least: int) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if await asyncio.to_thread(stored_event_count, workers.database_url) >= at_least:
            return
        assert workers.alive(), workers.logs()
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {at_least} events stored:\n{workers.logs()}")


@pytest.mark.timeout(400)
async def test_a_worker_restarted_on_an_empty_disk_rebuilds_its_table_from_the_changelog(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}loststore{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    topic = f"{prefix}transit-events"
    result = simulate(CONFIG)
    events = [delivery.event for delivery in result.deliveries]
    # Every other consignment whole before the restart, the rest after: the first ones
    # still in flight are in the table only if it is restored from the changelog.
    before = set(sorted(result.truth.consignments)[::2])
    first = [e for e in events if e.consignment_id in before]
    second = [e for e in events if e.consignment_id not in before]
    workers = RocksDBWorkers(kafka_bootstrap, prefix, fresh_database_url, tmp_path / "w")
    try:
        await produce(kafka_bootstrap, topic, first)
        workers.start()
        await _wait_for_stored(workers, len({e.event_id for e in first}))
        workers.kill()
        store_dir = workers.data_dir / "worker-0"
        assert list(store_dir.rglob("*.db")), "the worker kept its table on disk"
        shutil.rmtree(store_dir)

        await produce(kafka_bootstrap, topic, second)
        workers.start()
        expected = truth_snapshot(result.truth)
        distinct = len({e.event_id for e in events})
        snapshot = await wait_until_converged(workers, expected, distinct, within_seconds=240)
        for key in ("states", "stays", "crossings", "legs"):
            assert snapshot[key] == expected[key], (
                f"{key}: {first_difference(snapshot[key], expected[key])}\n{workers.logs()}"
            )
        versions = {(str(e.event_id), e.occurred_at) for e in events}
        assert snapshot["raw_events"] == (len(versions), distinct)
    finally:
        workers.stop_all()

    in_flight = {
        cid for cid, truth in result.truth.consignments.items() if truth.state not in FINAL
    }
    assert in_flight & before, "the test needs some the restarted worker never reads"
    assert _table_keys(workers) == in_flight
