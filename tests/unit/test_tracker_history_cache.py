"""The history cache's byte estimate against what its entries really take."""

from __future__ import annotations

import gc
import tracemalloc

import pytest

from bench.tracker_batches import simulated_records
from corridor.cloudevents import from_kafka_record
from corridor.folding import FoldedEvents, fold_events
from corridor.reference import load_reference
from services.tracker.batch_tracker import group_by_consignment
from services.tracker.history_cache import held_bytes
from storage.rows import TimelineRows, timeline_rows


def test_the_estimate_is_within_a_fifth_of_what_the_entries_take() -> None:
    reference = load_reference()
    records = simulated_records(3_000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        # Decoded as the worker decodes them, then folded and mapped to rows.
        events = [from_kafka_record(key, value, headers) for key, value, headers in records]
        cache: dict[str, tuple[FoldedEvents, TimelineRows]] = {}
        for consignment_id, group in group_by_consignment(events).items():
            folded = fold_events(None, group)
            cache[consignment_id] = (folded, timeline_rows(folded.timeline(reference), reference))
        del events, group, folded
        gc.collect()
        taken = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    estimated = sum(held_bytes(folded, rows) for folded, rows in cache.values())
    assert estimated == pytest.approx(taken, rel=0.2)
