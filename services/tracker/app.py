"""The Faust app: thin agents around `BatchTracker`, state in a changelogged table.

Offsets are acked only after a batch's database transaction commits. A database
outage makes the agent wait and retry (the partition simply stops advancing); any
other failure ends the process at once, before Faust could ack the batch, so a
restart replays it. Nothing is ever skipped.
"""

from __future__ import annotations

import logging
import os
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import faust
import mode
from faust.streams import _current_event
from faust.types import TP

from corridor.alerts import OverduePolicy
from corridor.cloudevents import from_kafka_record
from corridor.errors import CorridorError
from corridor.events import TransitEvent
from corridor.journey import Timeline
from corridor.reference import CorridorReference
from services.tracker.batching import ack_batch, take_batches
from services.tracker.collection import BatchPacedCollection
from services.tracker.derived import FaustDerivedTopics, consignment_update, encode
from services.tracker.overdue import OverdueScanner
from services.tracker.settings import TrackerSettings
from services.tracker.store import PostgresTrackingStore
from services.tracker.tracking import BatchTracker, RecentHistories
from services.tracker.transport import WireBytes, use_direct_delivery
from services.tracker.worker import QuietMonitor, QuietWorker

log = logging.getLogger(__name__)

EXIT_UNEXPECTED = 70  # EX_SOFTWARE: crash without acking, so the batch is replayed

# RocksDB sizing of the consignment-states store, per table partition. faust's defaults
# suit big tables: a 2 GiB block cache and up to 3 x 64 MiB memtables per partition.
# This table holds a ~350-byte summary per consignment in flight, but every write adds a
# version to the memtable until it is flushed, and under live traffic there is a write
# per event: over 3M such writes a process's RSS grew by ~360 MiB with the defaults, by
# ~40 MiB with these. At most 2 x 8 MiB of memtables and 16 MiB of cache per partition.
STATE_STORE_OPTIONS: dict[str, int] = {
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 1024**2,
}


class TableStates:
    """`ConsignmentStates` over a Faust table: a small JSON summary per consignment.

    Faust files a table write under the partition of the stream event being
    processed. A batch holds many events, so each write is made on behalf of an
    event of the same consignment (same key, same partition): `bind` says which.
    """

    def __init__(self, table: Any) -> None:  # a faust Table[bytes, bytes]
        self._table = table
        self._events_by_consignment: dict[str, Any] = {}

    def bind(self, events_by_consignment: dict[str, Any]) -> None:
        self._events_by_consignment = events_by_consignment

    @contextmanager
    def _on_behalf_of(self, consignment_id: str) -> Iterator[None]:
        token = _current_event.set(weakref.ref(self._events_by_consignment[consignment_id]))
        try:
            yield
        finally:
            _current_event.reset(token)

    def record(self, timeline: Timeline) -> None:
        summary = encode(consignment_update(timeline))
        with self._on_behalf_of(timeline.consignment_id):
            self._table[timeline.consignment_id.encode()] = summary

    def remove(self, consignment_id: str) -> None:
        with self._on_behalf_of(consignment_id):
            self._table.pop(consignment_id.encode(), None)


def decode(event: Any) -> TransitEvent | None:
    """A Kafka record as a `TransitEvent`; None (logged) for a record that isn't one."""
    message = event.message
    headers = (
        list(message.headers.items())
        if isinstance(message.headers, dict)
        else list(message.headers or [])
    )
    try:
        return from_kafka_record(message.key, message.value, headers)
    except (CorridorError, ValueError) as exc:
        log.error(
            "skipping undecodable record at %s[%s]@%s: %s",
            message.topic,
            message.partition,
            message.offset,
            exc,
        )
        return None


def create_app(
    settings: TrackerSettings,
    reference: CorridorReference,
    collection: BatchPacedCollection | None = None,
) -> faust.App:
    """Build the Faust app; nothing connects until the worker starts. `collection`, when
    the worker owns its process: when to collect garbage (see `BatchPacedCollection`)."""
    data_dir = settings.tracker_data_dir / settings.tracker_app_id
    data_dir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        settings.tracker_app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_servers],
        store=settings.tracker_store,
        # Per app id: a table store must never meet the changelog of another app.
        datadir=str(data_dir),
        web_enabled=settings.tracker_web_enabled,
        web_bind=settings.tracker_web_bind,
        web_port=settings.tracker_web_port,
        web_host=settings.tracker_web_bind,
        topic_partitions=settings.tracker_partitions,
        # Its table's changelog, created by faust: replicated like the declared topics.
        topic_replication_factor=settings.kafka_replication_factor,
        table_standby_replicas=settings.tracker_standby_replicas,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        broker_session_timeout=settings.tracker_session_timeout_seconds,
        broker_heartbeat_interval=settings.tracker_session_timeout_seconds / 10,
        stream_buffer_maxsize=settings.tracker_stream_buffer,
        producer_linger=settings.tracker_producer_linger_seconds,
        # faust elects its leader by assigning one worker the partition of an extra topic
        # that never holds a record. In that worker's fetches it made each fetch long-poll
        # for 1.5 s whenever the events partitions all had records waiting to be taken
        # (aiokafka sends one fetch per broker at a time), and that worker fell 4-11 s
        # behind the others over 1M events. The overdue scan elects its own (below).
        topic_disable_leader=True,
        Worker=QuietWorker,
        Monitor=QuietMonitor,
    )
    use_direct_delivery(app)
    events_topic = app.topic(settings.topic("transit-events"), schema=WireBytes())
    states_table = app.Table(
        "consignment-states",
        default=None,
        partitions=settings.tracker_partitions,
        key_type=bytes,
        value_type=bytes,
        # Ignored by memory://. faust's rocksdb store pops keys off this dict: a copy each.
        options=dict(STATE_STORE_OPTIONS),
    )
    store = PostgresTrackingStore(
        settings.dsn, reference, retry_max_seconds=settings.tracker_db_retry_max_seconds
    )
    derived = FaustDerivedTopics(
        app.topic(
            settings.topic("consignment-updates"), key_serializer="raw", value_serializer="raw"
        ),
        app.topic(settings.topic("alerts"), key_serializer="raw", value_serializer="raw"),
    )
    history = RecentHistories(settings.tracker_cache_events)
    states = TableStates(states_table)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_cached_histories(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # A partition that comes back may have moved on elsewhere meanwhile.
        history.clear()

    tracker = BatchTracker(reference, history, states, store, derived)
    scanner = OverdueScanner(
        store, derived, OverduePolicy(threshold=timedelta(hours=settings.tracker_overdue_hours))
    )

    @app.agent(events_topic)
    async def track(stream: Any) -> None:  # faust.Stream; its stubs lack take_events
        async for batch in take_batches(
            stream,
            settings.tracker_batch_size,
            within=settings.tracker_batch_seconds,
            backlog_within=settings.tracker_backlog_batch_seconds,
        ):
            decoded: list[TransitEvent] = []
            stream_events: dict[str, Any] = {}
            progress: dict[tuple[str, int], datetime] = {}
            for stream_event in batch:
                event = decode(stream_event)
                if event is not None:
                    decoded.append(event)
                    stream_events[event.consignment_id] = stream_event
                    read_from = (stream_event.message.topic, stream_event.message.partition)
                    known = progress.get(read_from)
                    if known is None or event.occurred_at > known:
                        progress[read_from] = event.occurred_at
            if not decoded:
                ack_batch(stream, batch)  # nothing to store; each record was logged
                del batch
                if collection is not None:
                    collection.after_batch()
                continue
            states.bind(stream_events)
            started = time.perf_counter()
            try:
                timelines = await tracker.track(decoded, progress)
            except Exception:
                log.exception(
                    "unexpected failure on a batch of %d events; exiting unacked", len(decoded)
                )
                logging.shutdown()
                os._exit(EXIT_UNEXPECTED)
            log.info(
                "tracked %d events of %d consignments in %.3f s",
                len(decoded),
                len(timelines),
                time.perf_counter() - started,
            )
            ack_batch(stream, batch)  # stored: now the offsets may be committed
            # Let go of the batch before collecting, so its objects are freed, not walked.
            del batch, decoded, stream_events, timelines
            states.bind({})
            if collection is not None:
                collection.after_batch()

    # One worker scans: the one reading the events topic's first partition.
    scanning_partition = TP(events_topic.get_topic_name(), 0)

    @app.timer(interval=settings.tracker_overdue_scan_seconds)  # type: ignore[untyped-decorator]
    async def scan_overdue() -> None:
        if scanning_partition not in app.consumer.assignment():
            return
        raised = await scanner.scan()
        if raised:
            log.info("raised %d overdue-stay alerts", raised)

    if collection is not None:

        @app.timer(interval=collection.tick_every)  # type: ignore[untyped-decorator]
        async def collect_garbage_while_idle() -> None:
            collection.tick()

    @app.service
    class DatabaseLifecycle(mode.Service):  # opens the pool with the worker, closes it after
        async def on_start(self) -> None:
            await store.open()

        async def on_stop(self) -> None:
            await store.close()

    return app
