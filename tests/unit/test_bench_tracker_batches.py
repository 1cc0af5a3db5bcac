"""The offline batch-size bench: bigger batches rebuild fewer consignments per event."""

from __future__ import annotations

from bench.tracker_batches import fold, simulated_records


def test_bigger_batches_rebuild_each_consignment_fewer_times() -> None:
    records = simulated_records(4_000)  # the 10-day window holds fewer: journeys run on
    assert 1_000 < len(records) <= 4_000
    _, per_event_small = fold(records, 100)
    _, per_event_whole = fold(records, len(records))
    # One batch rebuilds each consignment once; batches of 100 rebuild it again and again.
    consignments = len({key for key, _, _ in records})
    assert per_event_whole == consignments / len(records)
    assert per_event_small > 2 * per_event_whole
