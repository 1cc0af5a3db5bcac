"""The Faust app: wiring only. The batch loop and its ack/crash policy are in
`tracking_loop`; faust's private parts are bent in `services.common.kafka_internals`."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import faust
import mode
from faust.types import TP

from corridor.alerts import OverduePolicy
from corridor.reference import CorridorReference
from services.common.kafka_internals import (
    QuietMonitor,
    QuietWorker,
    ResumePoints,
    WireBytes,
    ack_events,
    read_assignment_again,
    use_direct_delivery,
)
from services.tracker.batch_tracker import BatchTracker
from services.tracker.batch_window import BatchWindow, take_batches
from services.tracker.dead_letters import DeadLetterSink
from services.tracker.derived_topics import FaustDerivedTopics
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.history_cache import RecentHistories
from services.tracker.overdue import OverdueScanner
from services.tracker.settings import TrackerSettings
from services.tracker.state_table import STATE_STORE_OPTIONS, TableStates
from services.tracker.store import PostgresTrackingStore
from services.tracker.tracking_loop import TrackingLoop
from storage.progress import Partition

log = logging.getLogger(__name__)

CACHE_REPORT_SECONDS = 60.0


def _faust_app(settings: TrackerSettings, resume_points: ResumePoints) -> faust.App:
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
        # faust's leader partition long-polls in its worker's fetches and holds it back;
        # the overdue scan elects its own worker (docs/tracker.md, *Overdue stays*).
        topic_disable_leader=True,
        Worker=QuietWorker,
        Monitor=QuietMonitor,
    )
    use_direct_delivery(app, resume_points)
    return app


def _states_table(app: faust.App, settings: TrackerSettings) -> TableStates:
    table = app.Table(
        "consignment-states",
        default=None,
        partitions=settings.tracker_partitions,
        key_type=bytes,
        value_type=bytes,
        # Ignored by memory://. faust's rocksdb store pops keys off this dict: a copy each.
        options=dict(STATE_STORE_OPTIONS),
    )
    return TableStates(table)


def _raw_topic(app: faust.App, name: str) -> Any:
    return app.topic(name, key_serializer="raw", value_serializer="raw")


def create_app(
    settings: TrackerSettings,
    reference: CorridorReference,
    collection: BatchPacedCollection | None = None,
) -> faust.App:
    """Build the Faust app; nothing connects until the worker starts. `collection`, when
    the worker owns its process: when to collect garbage (see `BatchPacedCollection`)."""
    store = PostgresTrackingStore(
        settings.dsn, reference, retry_max_seconds=settings.tracker_db_retry_max_seconds
    )
    # After each assignment the consumer seeks to the database's offsets where the group's
    # are further: a database restored from a backup is caught up again.
    app = _faust_app(settings, store.resume_points)
    events_topic = app.topic(settings.topic("transit-events"), schema=WireBytes())
    states = _states_table(app, settings)
    alerts_topic = _raw_topic(app, settings.topic("alerts"))
    derived = FaustDerivedTopics(
        _raw_topic(app, settings.topic("consignment-updates")), alerts_topic
    )
    cache_bytes = settings.tracker_cache_mib * 1024**2
    history = RecentHistories(cache_bytes)
    tracker = BatchTracker(reference, history, states, store, derived, aliases=store)
    dead_letters = DeadLetterSink(
        store, _raw_topic(app, settings.topic("dead-letters")), alerts_topic
    )
    window = _batch_window(settings)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget_cached_histories(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # A partition that comes back may have moved on elsewhere meanwhile, or its
        # database been restored: histories and known offsets are the database's again.
        history.clear()
        store.forget_offsets()

    async def read_again(resume_at: Mapping[Partition, int]) -> None:
        # The database lost what the cache still holds: timelines come from its rows.
        history.clear()
        await read_assignment_again(app)

    @app.agent(events_topic)
    async def track(stream: Any) -> None:  # faust.Stream; its stubs lack what is used
        loop = TrackingLoop(
            tracker, states, dead_letters, ack_events, collection, rewind=read_again
        )
        await loop.run(take_batches(stream, window))

    _add_timers(app, settings, store, derived, events_topic, collection)
    _add_cache_report(app, history, cache_bytes)
    _open_with_the_worker(app, store)
    return app


def _batch_window(settings: TrackerSettings) -> BatchWindow:
    return BatchWindow(
        settings.tracker_batch_size,
        within=settings.tracker_batch_seconds,
        backlog_within=settings.tracker_backlog_batch_seconds,
        live_max_events=settings.tracker_live_batch_size,
    )


def _add_cache_report(app: faust.App, history: RecentHistories, cache_bytes: int) -> None:
    @app.timer(interval=CACHE_REPORT_SECONDS)  # type: ignore[untyped-decorator]
    async def report_cache_size() -> None:  # read by bench/soak.py
        log.info(
            "history cache: %d bytes of %d consignments (at most %d bytes)",
            history.bytes_held,
            len(history),
            cache_bytes,
        )


def _open_with_the_worker(app: faust.App, store: PostgresTrackingStore) -> None:
    @app.service
    class DatabaseLifecycle(mode.Service):  # opens the pool with the worker, closes it after
        async def on_start(self) -> None:
            await store.open()

        async def on_stop(self) -> None:
            await store.close()


def _add_timers(
    app: faust.App,
    settings: TrackerSettings,
    store: PostgresTrackingStore,
    derived: FaustDerivedTopics,
    events_topic: Any,
    collection: BatchPacedCollection | None,
) -> None:
    scanner = OverdueScanner(
        store, derived, OverduePolicy(threshold=timedelta(hours=settings.tracker_overdue_hours))
    )
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
