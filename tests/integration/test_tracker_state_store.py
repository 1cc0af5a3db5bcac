"""The consignment-states table's RocksDB store keeps its memory bounded under live traffic.

Every state write adds a version to RocksDB's memtable until the memtable is flushed, and
live traffic writes once per event: with faust's defaults (up to 3 x 64 MiB of memtables
and a 2 GiB block cache per partition) a worker's RSS grew by hundreds of MiB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust
import pytest

from corridor.reference import load_reference
from services.tracker.app import create_app
from services.tracker.settings import TrackerSettings
from services.tracker.state_table import STATE_STORE_OPTIONS

pytestmark = pytest.mark.integration

SUMMARY = b"s" * 350  # about the size of a consignment's JSON summary


def _settings(data_dir: Path, store: str) -> TrackerSettings:
    return TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted: nothing connects here
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=data_dir,
        tracker_store=store,
    )


def _table(app: faust.App) -> Any:  # a faust Table; the manager's mapping types it loosely
    return app.tables["consignment-states"]


def test_a_partition_of_the_states_store_holds_at_most_its_memtable_budget(
    tmp_path: Path,
) -> None:
    app: faust.App = create_app(_settings(tmp_path, "rocksdb://"), load_reference())
    store = _table(app).data
    db = store.rocksdb_options.open(tmp_path / "partition-0")
    budget = (
        STATE_STORE_OPTIONS["write_buffer_size"] * STATE_STORE_OPTIONS["max_write_buffer_number"]
    )
    held = []
    try:
        # 42 MB of versions of 5,000 consignments' states: more than the budget, less than
        # one of faust's default memtables, so with the defaults nothing would be flushed.
        for n in range(120_000):
            db[f"consignment-{n % 5_000}".encode()] = SUMMARY
            if n % 2_000 == 0:
                held.append(db.property_int_value("rocksdb.cur-size-all-mem-tables"))
        assert db[b"consignment-4999"] == SUMMARY
    finally:
        db.close()
    assert max(held) <= budget * 1.05, held
    assert held[-1] < max(held)  # flushed along the way, not only at the end


def test_the_memory_store_takes_the_same_table(tmp_path: Path) -> None:
    # Tests run the tracker on memory://, which must accept the table as configured.
    app: faust.App = create_app(_settings(tmp_path, "memory://"), load_reference())
    states = _table(app)
    states.data[b"consignment-1"] = SUMMARY
    assert states.data[b"consignment-1"] == SUMMARY
