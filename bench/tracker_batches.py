"""The tracker's use case alone: CPU per event at several batch sizes, no broker, no database.

    python -m bench.tracker_batches [--events 200000] [--sizes 12500,25000,50000,100000]

Simulates the corridor at the density of `bench.tracker_throughput`, decodes every
record as the worker does, then folds the events, in delivery order, through
`BatchTracker` with in-memory stand-ins for the history cache's neighbours (the store
maps timelines and events to rows, as the real one does before its SQL). A batch's cost
goes mostly with the consignments it touches, so this shows what a bigger batch saves;
the rebuilds per event say why. The smallest size is the baseline the others are
compared with, in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import time
from collections.abc import Mapping, Sequence

from bench.tracker_throughput import EVENTS_PER_CONSIGNMENT
from corridor.alerts import Alert
from corridor.cloudevents import from_kafka_record, to_kafka_record
from corridor.events import TransitEvent
from corridor.model import Timeline
from corridor.reference import CorridorReference, load_reference
from services.tracker.batch_tracker import BatchTracker
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.history_cache import RecentHistories
from simulator import SimulationConfig, simulate
from storage.progress import Partition, PartitionProgress
from storage.rows import TimelineRows, event_row, timeline_rows

CACHE_BYTES = 850 * 1024**2  # the worker's default TRACKER_CACHE_MIB


class _Rows:
    """A store that maps what it is given to rows and keeps nothing."""

    def __init__(self, reference: CorridorReference) -> None:
        self._reference = reference

    async def load_events(self, consignment_ids: Sequence[str]) -> dict[str, list[TransitEvent]]:
        return {}

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, TimelineRows],
        progress: Mapping[Partition, PartitionProgress],
    ) -> Mapping[str, TimelineRows]:
        for event in events:
            event_row(event)
        return {t.consignment_id: timeline_rows(t, self._reference) for t in timelines}


class _NoStates:
    def record(self, timeline: Timeline) -> None:
        pass

    def remove(self, consignment_id: str) -> None:
        pass


class _NoTopics:
    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None:
        pass


Record = tuple[bytes, bytes, list[tuple[str, bytes]]]


def simulated_records(events: int, seed: int = 1) -> list[Record]:
    consignments = max(1, events // EVENTS_PER_CONSIGNMENT)
    days = max(10.0, consignments / 150)  # the density of bench.tracker_throughput
    result = simulate(SimulationConfig(seed=seed, consignments=consignments, days=days))
    records = []
    for delivery in itertools.islice(result.deliveries, events):
        record = to_kafka_record(delivery.event)
        records.append((record.key, record.value, record.headers))
    return records


def fold(records: list[Record], size: int) -> tuple[float, float]:
    """CPU seconds per event and consignment rebuilds per event, batches of `size`."""
    reference = load_reference()
    # Freshly decoded, as the worker holds them: no digest computed by an earlier pass.
    events = [from_kafka_record(key, value, headers) for key, value, headers in records]
    tracker = BatchTracker(
        reference, RecentHistories(CACHE_BYTES), _NoStates(), _Rows(reference), _NoTopics()
    )

    collection = BatchPacedCollection()  # as the tracker's worker

    async def run() -> int:
        rebuilt = 0
        for start in range(0, len(events), size):
            rebuilt += len(await tracker.track(events[start : start + size]))
            collection.after_batch()
        return rebuilt

    gc.collect()
    collection.take_over()
    started = time.process_time()
    try:
        rebuilt = asyncio.run(run())
    finally:
        collection.hand_back()
    return (time.process_time() - started) / len(events), rebuilt / len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--sizes", default="12500,25000,50000,100000")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    records = simulated_records(args.events)
    print(f"{len(records):,} events; CPU per event of BatchTracker.track and its rows")
    print(f"{'batch size':>10} {'us/event':>9} {'rebuilds/event':>15} {'vs smallest':>12}")
    smallest = None
    for size in sizes:
        seconds, rebuilds = fold(records, size)
        smallest = smallest or seconds
        print(f"{size:>10,} {seconds * 1e6:>9.1f} {rebuilds:>15.3f} {seconds / smallest:>12.2f}")


if __name__ == "__main__":
    main()
