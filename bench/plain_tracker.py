"""The tracker's own work on a bare aiokafka consumer: the most a tracker off Faust reaches.

    python -m bench.plain_tracker TOPIC TOTAL --dsn DSN [--bootstrap H:P] [--batch N]

Issue 28 asks one worker for half the bare consumer's rate. The Faust ceilings
(`bench.faust_ceiling`) show what Faust's stream costs; this path asks the other
question: with today's domain work unchanged, how far would taking the events off
Faust's stream go? It runs the production use case (`BatchTracker` with the
production store, history cache, alias repository and garbage-collection pacing)
over records read straight from aiokafka, as the baseline reads them: every partition
assigned, no consumer group, `getmany` until a batch of `--batch` events (the
tracker's catch-up size) or the log's end. Per batch it decodes and validates every
record, tracks, writes the rows in one transaction, and sends the derived records and
one state summary per consignment (standing in for the state table's changelog)
through an idempotent producer, awaiting their acks before the next batch.

What it leaves out, so its figure is a ceiling for such a design, not a design: the
consumer group and rebalances, offset commits, dead-letter isolation, the overdue scan.
It exits 0 once TOTAL events are stored; its last line is JSON with its CPU seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from corridor.alerts import Alert
from corridor.events import TransitEvent
from corridor.model import Timeline
from corridor.reference import load_reference
from services.tracker.batch_tracker import BatchTracker
from services.tracker.derived_topics import alert_message, consignment_update, encode
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.history_cache import RecentHistories
from services.tracker.settings import TrackerSettings
from services.tracker.store import PostgresTrackingStore
from services.tracker.tracking_loop import decode, progress_of
from storage.progress import Partition, PartitionProgress


class ProducedDerivedTopics:
    """The derived records and the state summaries, queued on one producer; `flush`
    awaits them all (the tracker's offsets move only once they are acked)."""

    def __init__(self, producer: AIOKafkaProducer, prefix: str, states_topic: str) -> None:
        self._producer = producer
        self._updates = f"{prefix}consignment-updates"
        self._alerts = f"{prefix}alerts"
        self._states_topic = states_topic
        self._pending: list[asyncio.Future[Any]] = []

    async def _send(self, topic: str, key: str, value: bytes) -> None:
        self._pending.append(await self._producer.send(topic, key=key.encode(), value=value))

    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None:
        for timeline in timelines:
            update = encode(consignment_update(timeline))
            await self._send(self._updates, timeline.consignment_id, update)
            await self._send(self._states_topic, timeline.consignment_id, update)
        for alert in alerts:
            await self._send(self._alerts, alert.consignment_id, encode(alert_message(alert)))

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        await asyncio.gather(*pending)


class UnboundStates:
    """The state table's summaries go out with the derived records (`ProducedDerivedTopics`),
    so the table itself has nothing left to do here."""

    def record(self, timeline: Timeline) -> None:
        pass

    def remove(self, consignment_id: str) -> None:
        pass


class _Delivered(NamedTuple):
    """A record as the tracker's loop sees one: a stream event's `message`."""

    message: Any


def decoded_batch(
    records: Sequence[Any],
) -> tuple[list[TransitEvent], dict[Partition, PartitionProgress]]:
    """The events of `records` and how far they go in each partition, by the tracker's
    own loop functions."""
    delivered = [_Delivered(record) for record in records]
    events = [decode(record) for record in delivered]
    return events, progress_of(events, delivered)


async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


async def run(topic: str, total: int, dsn: str, bootstrap: str, batch: int) -> int:
    defaults = TrackerSettings.model_fields
    reference = load_reference()
    prefix = topic.removesuffix("transit-events")
    collection = BatchPacedCollection()
    collection.take_over()  # as the tracker's worker
    store = PostgresTrackingStore(dsn, reference)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=int(defaults["tracker_producer_linger_seconds"].default * 1000),
    )
    await asyncio.gather(store.open(), consumer.start(), producer.start())
    stored = 0
    try:
        partitions = sorted(await producer.partitions_for(topic))
        states_topic = f"{prefix}plain-tracker-states"
        await _create_topic(bootstrap, states_topic, len(partitions))
        derived = ProducedDerivedTopics(producer, prefix, states_topic)
        history = RecentHistories(defaults["tracker_cache_mib"].default * 1024**2)
        tracker = BatchTracker(reference, history, UnboundStates(), store, derived, aliases=store)
        consumer.assign([TopicPartition(topic, partition) for partition in partitions])
        await consumer.seek_to_beginning()
        while stored < total:
            records: list[Any] = []
            while len(records) < batch:
                fetched = await consumer.getmany(timeout_ms=100, max_records=batch - len(records))
                if not fetched:
                    break  # the log's end: a catch-up batch closes early there too
                records += [record for part in fetched.values() for record in part]
            if not records:
                continue
            events, progress = decoded_batch(records)
            del records
            await tracker.track(events, progress)
            await derived.flush()
            stored += len(events)
            del events
            collection.after_batch()
    finally:
        await asyncio.gather(consumer.stop(), producer.stop(), store.close())
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("topic")
    parser.add_argument("total", type=int)
    parser.add_argument("--dsn", required=True, help="a migrated database to write into")
    parser.add_argument("--bootstrap", default="127.0.0.1:39092")
    parser.add_argument(
        "--batch",
        type=int,
        default=TrackerSettings.model_fields["tracker_batch_size"].default,
        help="events per batch (the tracker's catch-up batch size)",
    )
    args = parser.parse_args()
    stored = asyncio.run(run(args.topic, args.total, args.dsn, args.bootstrap, args.batch))
    report = json.dumps({"stored": stored, "cpu_seconds": time.process_time()})
    os.write(1, f"{report}\n".encode())


if __name__ == "__main__":
    main()
