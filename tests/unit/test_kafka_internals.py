"""The direct-delivery consumer hands records over without tasks, yet a delivery that
has to wait can still be interrupted, as faust's consumer loop relies on."""

from __future__ import annotations

import asyncio
import inspect
import logging
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from aiokafka import TopicPartition
from faust.types import TP
from mode import Service

from services.common.kafka_internals import (
    DirectDeliveryConsumer,
    DirectWaitFirst,
    QuietMonitor,
    QuietWorker,
    SingleAssignmentFetchThread,
    fetch_within_one_assignment,
)
from services.tracker.settings import TrackerSettings


class Racer(DirectWaitFirst, Service):
    """A bare service with the direct `wait_first`, as the consumer has it."""


async def _deliver_now(queue: list[str], item: str) -> str:
    queue.append(item)
    return item


async def test_a_delivery_that_never_waits_returns_at_once_without_tasks() -> None:
    racer = Racer()
    suspended = asyncio.Event()
    queue: list[str] = []
    waiter = suspended.wait()
    tasks_before = len(asyncio.all_tasks())

    delivery = _deliver_now(queue, "record-1")
    results = await racer.wait_first(delivery, waiter)

    assert queue == ["record-1"]
    assert results.done == [delivery]
    assert results.results == ["record-1"]
    assert not results.stopped
    assert len(asyncio.all_tasks()) == tasks_before
    # the losing waiter was never started; it is closed rather than left unawaited
    assert inspect.getcoroutinestate(waiter) == inspect.CORO_CLOSED


async def test_a_delivery_that_waits_finishes_as_a_task() -> None:
    racer = Racer()
    room = asyncio.Event()
    queue: list[str] = []

    async def deliver_when_room() -> str:
        await room.wait()
        await asyncio.sleep(0)  # several suspensions, each resumed in order
        queue.append("record-2")
        return "record-2"

    asyncio.get_running_loop().call_later(0.01, room.set)
    results = await racer.wait_first(deliver_when_room(), asyncio.Event().wait())

    assert queue == ["record-2"]
    assert results.results == ["record-2"]


async def test_a_blocked_delivery_is_interrupted_by_suspended_flow() -> None:
    # What a rebalance does to a delivery stuck on a full stream buffer.
    racer = Racer()
    suspend_flow = asyncio.Event()
    interrupted = asyncio.Event()

    async def deliver_into_full_buffer() -> None:
        try:
            await asyncio.Event().wait()  # never room
        finally:
            interrupted.set()

    asyncio.get_running_loop().call_later(0.01, suspend_flow.set)
    results = await asyncio.wait_for(
        racer.wait_first(deliver_into_full_buffer(), suspend_flow.wait()), timeout=5
    )

    assert len(results.done) == 1  # the suspend waiter won
    await asyncio.wait_for(interrupted.wait(), timeout=5)


async def test_failures_propagate_whether_or_not_the_delivery_waited() -> None:
    racer = Racer()

    async def fail_at_once() -> None:
        raise ValueError("undecodable")

    async def fail_later() -> None:
        await asyncio.sleep(0.001)
        raise ValueError("undecodable later")

    other = asyncio.Event().wait()
    with pytest.raises(ValueError, match="undecodable"):
        await racer.wait_first(fail_at_once(), other)
    assert inspect.getcoroutinestate(other) == inspect.CORO_CLOSED
    with pytest.raises(ValueError, match="undecodable later"):
        await racer.wait_first(fail_later(), asyncio.Event().wait())


async def test_a_stopped_service_reports_stopped_as_before() -> None:
    racer = Racer()
    await racer.stop()
    queue: list[str] = []

    results = await racer.wait_first(_deliver_now(queue, "late"), asyncio.Event().wait())

    assert results.stopped


def test_the_tracker_app_consumes_with_direct_delivery(tmp_path: Any) -> None:
    from corridor.reference import load_reference
    from services.tracker.app import create_app

    settings = TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted: nothing connects here
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=tmp_path,
        tracker_store="memory://",
        tracker_stream_buffer=8_192,
        tracker_producer_linger_seconds=0.05,
    )
    app: faust.App = create_app(settings, load_reference())

    assert app.transport.Consumer is DirectDeliveryConsumer
    # Its fetches hand over nothing drained across a rebalance.
    thread = app.consumer._thread  # type: ignore[attr-defined]
    thread.thread_loop.close()  # never run: made with the consumer
    assert isinstance(thread, SingleAssignmentFetchThread)
    assert app.conf.stream_buffer_maxsize == 8_192
    assert app.conf.producer_linger == 0.05  # derived records go out in fuller requests
    assert app.conf.table_standby_replicas == 0  # nobody reads the table: no warm copies
    # No leader topic: its empty partition made the leader's fetches long-poll.
    assert app.conf.topic_disable_leader is True
    assert isinstance(app.monitor, QuietMonitor)


async def test_the_tracker_apps_producer_is_idempotent(tmp_path: Any) -> None:
    from corridor.reference import load_reference
    from services.tracker.app import create_app

    settings = TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted: nothing connects here
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=tmp_path,
        tracker_store="memory://",
    )
    app: faust.App = create_app(settings, load_reference())

    kafka_producer = app.producer._new_producer()  # type: ignore[attr-defined]  # never started
    try:
        # A retried send (a leader that failed over after writing) is not written twice.
        assert kafka_producer._txn_manager is not None  # aiokafka's idempotence bookkeeping
        assert kafka_producer._txn_manager.transactional_id is None  # no transactions
    finally:
        await kafka_producer.stop()


def test_the_monitor_skips_records_but_still_follows_commits() -> None:
    monitor = QuietMonitor()
    tp = TP("transit-events", 0)
    message = SimpleNamespace(time_in=None)

    monitor.on_message_in(tp, 7, message)
    monitor.on_tp_commit({tp: 8})

    assert monitor.messages_received_total == 0
    assert message.time_in is None  # no per-record stamps either
    assert monitor.tp_committed_offsets == {tp: 8}


def test_the_worker_keeps_the_log_level_asked_for(tmp_path: Any) -> None:
    # faust's own worker turns the root logger to DEBUG for its spinner at WARN.
    app = faust.App("quiet-worker-test", broker="kafka://127.0.0.1:1", datadir=str(tmp_path))
    worker = QuietWorker(app, loglevel="warn")
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        root.setLevel(logging.WARN)
        worker.on_setup_root_logger(root, logging.WARN)

        assert root.level == logging.WARN
        assert not logging.getLogger("aiokafka.producer.producer").isEnabledFor(logging.DEBUG)
        assert root.handlers == handlers
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


async def test_a_waiting_delivery_that_is_cancelled_runs_its_cleanup() -> None:
    racer = Racer()
    cleaned = asyncio.Event()

    async def deliver_forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    racing = asyncio.ensure_future(racer.wait_first(deliver_forever(), asyncio.Event().wait()))
    await asyncio.sleep(0.01)
    racing.cancel()

    with pytest.raises(asyncio.CancelledError):
        await racing
    assert cleaned.is_set()


def test_closing_a_resumed_delivery_closes_the_coroutine() -> None:
    # As `yield from` would: a task dropped unfinished must not leave the delivery open.
    from services.common.kafka_internals.delivery import _Resumed

    loop = asyncio.new_event_loop()
    never = loop.create_future()
    closed = []

    async def delivery() -> None:
        try:
            await never
        finally:
            closed.append(True)

    coro = delivery()
    resumed = _Resumed(coro, coro.send(None)).__await__()
    next(resumed)
    resumed.close()
    loop.close()

    assert closed == [True]


async def test_records_reach_the_agent_as_the_bytes_on_the_wire(tmp_path: Any) -> None:
    from faust.types import Message

    from services.common.kafka_internals import WireBytes

    app = faust.App("wire-bytes-test", broker="kafka://127.0.0.1:1", datadir=str(tmp_path))
    decode = WireBytes().compile(app)
    body = b'{"not": "checked here"}\xff'  # not even UTF-8: the agent judges, not the schema
    message = Message("t", 0, 7, 0.0, 0, [("ce_id", b"x")], b"MC-1", body, None)
    keyless = Message("t", 0, 8, 0.0, 0, [], None, b"{}", None)

    event = await decode(message)
    without_key = await decode(keyless)

    assert (event.key, event.value, event.message) == (b"MC-1", body, message)
    assert (without_key.key, without_key.value) == (None, b"{}")


def test_the_tracker_reads_its_events_topic_as_wire_bytes(tmp_path: Any) -> None:
    from corridor.reference import load_reference
    from services.common.kafka_internals import WireBytes
    from services.tracker.app import create_app

    settings = TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=tmp_path,
        tracker_store="memory://",
    )
    app: faust.App = create_app(settings, load_reference())

    (agent,) = app.agents.values()
    assert isinstance(agent.channel.schema, WireBytes)


class RebalancingKafkaConsumer:
    """Just what `fetch_within_one_assignment` reads of aiokafka's consumer: positions
    held in an assignment object that a rebalance replaces, and `seek`."""

    def __init__(self, assigned: set[TP]) -> None:
        self._subscription = SimpleNamespace(subscription=SimpleNamespace(assignment=object()))
        self.assigned = assigned
        self.sought: dict[TP, int] = {}

    def rebalance(self, assigned: set[TP]) -> None:
        self._subscription.subscription.assignment = object()
        self.assigned = assigned

    def assignment(self) -> set[TP]:
        return self.assigned

    def seek(self, tp: TP, offset: int) -> None:
        self.sought[tp] = offset


CHANGELOG = TP("app-marks-changelog", 0)
EVENTS = TP("events", 0)


def _records(tp: TP, *offsets: int) -> list[Any]:
    return [SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o) for o in offsets]


async def test_records_drained_across_a_rebalance_are_put_back_for_the_next_fetch() -> None:
    kafka = RebalancingKafkaConsumer({EVENTS, CHANGELOG})

    async def fetch_spanning_a_rebalance() -> Any:
        kafka.rebalance({EVENTS, CHANGELOG})  # the fetch was waiting when the group rejoined
        return {CHANGELOG: _records(CHANGELOG, 7, 8), EVENTS: _records(EVENTS, 3)}

    records = await fetch_within_one_assignment(kafka, fetch_spanning_a_rebalance())

    # Nothing reaches faust, which would drop the records it did not ask for...
    assert records == {}
    # ...and the next fetch reads them again, from the first one drained.
    assert kafka.sought == {CHANGELOG: 7, EVENTS: 3}


async def test_a_partition_the_rebalance_took_away_is_not_sought() -> None:
    kafka = RebalancingKafkaConsumer({EVENTS, CHANGELOG})

    async def fetch_spanning_a_rebalance() -> Any:
        kafka.rebalance({EVENTS})
        return {CHANGELOG: _records(CHANGELOG, 7), EVENTS: _records(EVENTS, 3)}

    records = await fetch_within_one_assignment(kafka, fetch_spanning_a_rebalance())

    assert records == {}
    assert kafka.sought == {EVENTS: 3}  # aiokafka refuses to seek an unassigned partition


async def test_records_of_an_unchanged_assignment_are_handed_over() -> None:
    kafka = RebalancingKafkaConsumer({EVENTS})
    drained = {EVENTS: _records(EVENTS, 3, 4)}

    async def fetch() -> Any:
        return drained

    records = await fetch_within_one_assignment(kafka, fetch())

    assert records is drained
    assert kafka.sought == {}


async def test_the_stall_check_passes_over_a_partition_waiting_for_its_offset(
    tmp_path: Any,
) -> None:
    # faust's commit livelock detector runs this for every assigned partition; right
    # after a rebalance one can still wait for its offset, and aiokafka's assertion on
    # its unknown position crashed the surviving worker of a failover.
    import time

    from aiokafka.consumer.subscription_state import SubscriptionState

    from corridor.reference import load_reference
    from services.tracker.app import create_app

    settings = TrackerSettings(
        kafka_bootstrap_servers="127.0.0.1:1",  # never contacted
        database_url="postgresql://tracker@127.0.0.1:1/none",
        tracker_data_dir=tmp_path,
        tracker_store="memory://",
    )
    app: faust.App = create_app(settings, load_reference())
    thread = app.consumer._thread  # type: ignore[attr-defined]
    thread.thread_loop.close()  # never run: made with the consumer
    thread.time_started = time.monotonic()
    subscription = SubscriptionState()
    waiting, positioned = TopicPartition("events", 0), TopicPartition("events", 1)
    subscription.assign_from_user({waiting, positioned})
    assignment = subscription.subscription.assignment
    for tp in (waiting, positioned):
        assignment.state_value(tp).timestamp = time.time() * 1000  # fetched just now
    assignment.state_value(positioned).seek(5)
    thread._consumer = SimpleNamespace(
        _subscription=subscription, _fetcher=SimpleNamespace(_subscriptions=subscription)
    )

    thread.verify_event_path(time.monotonic(), TP("events", 0))  # no AssertionError
    thread.verify_event_path(time.monotonic(), TP("events", 1))  # checked as before
