"""Records that reach a worker while its rebalance ends are all processed and committed.

faust resumes the stream partitions at the end of a rebalance with flow already active,
seeks them to their committed offsets, and only then resumes flow control, which empties
the stream queues. Records delivered in that window used to be dropped for good: never
acked, never fetched again, the partition's commit stuck below them
(`DirectDeliveryConsumer` in `services/common/kafka_internals/consumer.py`). Here the
window is held open on purpose: the seek waits at a gate while records arrive and the
agent holds a batch.

The app runs in the test's event loop, as in `test_faust_compat.py`, with the tracker's
transport and batching.

A fetch that waits through the rebalance must not take, under the new assignment,
records faust did not ask for: it used to drain the changelog record table recovery had
just sought to, faust dropped it, and recovery waited for it for ever
(`fetch_within_one_assignment`). The second test shows that step alone, on aiokafka.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import faust
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from infra.kafka.topics import TopicSpec, ensure_topics
from services.common.kafka_internals import (
    WireBytes,
    ack_events,
    fetch_within_one_assignment,
    use_direct_delivery,
)
from services.tracker.batch_window import BatchWindow, take_batches
from tests.fixtures.kafka import running

pytest_plugins = ["tests.fixtures.kafka"]

pytestmark = pytest.mark.integration

QUEUED = 50  # records delivered while the seek waits, behind the batch the agent holds


async def _until(
    condition: Callable[[], bool], what: str, seconds: float = 30.0, state: Any = None
) -> None:
    """Wait for `condition`; on timeout fail saying what, and `state()` if given."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                if condition():
                    return
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"not within {seconds:g}s: {what} {state() if state else ''}")


async def test_records_delivered_while_a_rebalance_ends_are_processed_and_committed(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    topic = f"{topic_prefix}rebalance.{run}.events"
    await ensure_topics(kafka_bootstrap, [TopicSpec(topic, 1)])
    app_id = f"{topic_prefix}rebalance.{run}"
    app = faust.App(
        app_id,
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        topic_partitions=1,
        topic_replication_factor=1,
        web_enabled=False,
        datadir=str(tmp_path),
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=0.5,
        key_serializer="raw",
        value_serializer="raw",
    )
    use_direct_delivery(app)
    events = app.topic(topic, schema=WireBytes())
    # A table, as the tracker has. A change in its changelog that this worker has not
    # applied (as when a partition moves between workers) makes the rebalance restore
    # it, and faust then fetches from the stream partition before it seeks it.
    marks = app.Table("marks", default=None, partitions=1, key_type=bytes, value_type=bytes)
    seen: list[int] = []
    release = asyncio.Event()
    release.set()

    @app.agent(events)
    async def track(stream: Any) -> None:
        async for batch in take_batches(stream, BatchWindow(1_000, within=0.1, backlog_within=0.1)):
            seen.extend(event.message.offset for event in batch)
            await release.wait()
            ack_events(batch)

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        async with running(app), _unblocked(release, gate := asyncio.Event()):
            consumer: Any = app.consumer  # faust internals: flow, read offsets
            await _until(
                lambda: bool(consumer.assignment()) and not app.rebalancing, "the first assignment"
            )
            at_gate = asyncio.Event()
            seek: Callable[[], Coroutine[Any, Any, None]] = consumer.perform_seek

            async def seek_at_the_gate() -> None:
                if not consumer.flow_active:
                    # A fetch that found flow stopped seeks too: not the seek to hold.
                    await seek()
                    return
                del consumer.perform_seek  # only this once
                at_gate.set()
                await gate.wait()
                await seek()

            consumer.perform_seek = seek_at_the_gate
            await producer.send_and_wait(marks.changelog_topic.get_topic_name(), b"m", key=b"k")
            _rejoin(consumer)
            async with asyncio.timeout(60):
                await at_gate.wait()

            # The rebalance waits at its seek with the partition resumed: records flow.
            release.clear()
            await producer.send_and_wait(topic, b"0")
            await _until(
                lambda: seen == [0],
                "the agent holding offset 0",
                state=lambda: (
                    f"read {consumer._read_offset} flow {consumer.flow_active}"
                    f" fc {app.flow_control.is_active()} active {consumer._get_active_partitions()}"
                    f" seen {seen}"
                ),
            )
            for n in range(1, QUEUED + 1):
                await producer.send(topic, str(n).encode())
            await producer.flush()
            tp = next(tp for tp in consumer.assignment() if tp.topic == topic)
            await _until(lambda: consumer._read_offset.get(tp) == QUEUED, "every record read")

            gate.set()
            await _until(lambda: not app.rebalancing, "the rebalance ending")
            release.set()
            await producer.send_and_wait(topic, str(QUEUED + 1).encode())

            everything = set(range(QUEUED + 2))
            await _until(lambda: everything <= set(seen), f"every offset taken, saw {seen}")
            await _until(
                lambda: _committed(consumer, tp) == QUEUED + 2, "the commit past the last record"
            )
        assert await _group_committed(kafka_bootstrap, app_id, topic) == QUEUED + 2
    finally:
        await producer.stop()


def _rejoin(consumer: Any) -> None:
    """Make the group rebalance with the same single member, on the consumer's thread."""
    thread = consumer._thread
    coordinator = thread._ensure_consumer()._coordinator
    thread.thread_loop.call_soon_threadsafe(coordinator.request_rejoin)


def _committed(consumer: Any, tp: Any) -> int | None:
    offset: int | None = consumer._committed_offset.get(tp)
    return offset


async def _group_committed(bootstrap: str, group: str, topic: str) -> int | None:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group)
    await reader.start()
    try:
        offset: int | None = await reader.committed(TopicPartition(topic, 0))
        return offset
    finally:
        await reader.stop()


@contextlib.asynccontextmanager
async def _unblocked(*events: asyncio.Event) -> AsyncIterator[None]:
    """Whatever happens, the agent and the seek go on, so that the app can stop."""
    try:
        yield
    finally:
        for event in events:
            event.set()


async def test_a_fetch_waiting_through_a_rebalance_loses_no_record(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    # faust's fetch asks aiokafka for the partitions it has resumed, as a live set that a
    # rebalance empties while the fetch waits; aiokafka reads an empty set as "every
    # partition". Here the record arrives under the new assignment, as table recovery's
    # changelog record does after its seek, while the fetch from before still waits.
    run = uuid.uuid4().hex[:8]
    changelog = TopicPartition(f"{topic_prefix}fetch.{run}.changelog", 0)
    stream = TopicPartition(f"{topic_prefix}fetch.{run}.events", 0)
    await ensure_topics(
        kafka_bootstrap, [TopicSpec(changelog.topic, 1), TopicSpec(stream.topic, 1)]
    )
    kafka = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=f"{topic_prefix}fetch.{run}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    kafka.subscribe([changelog.topic, stream.topic])
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await kafka.start()
    await producer.start()
    try:
        await _until(lambda: len(kafka.assignment()) == 2, "the first assignment")
        resumed = {stream}  # faust's active partitions: the changelog is paused
        fetching = asyncio.create_task(
            fetch_within_one_assignment(kafka, kafka._fetcher.fetched_records(resumed, 30.0))
        )
        await asyncio.sleep(0.2)  # the fetch waits: the stream partition is empty
        resumed.clear()  # the rebalance pauses everything
        first = _assignment(kafka)
        kafka._coordinator.request_rejoin()
        await _until(lambda: _assignment(kafka) not in (None, first), "the new assignment")
        await producer.send_and_wait(changelog.topic, b"change", key=b"k")

        assert await asyncio.wait_for(fetching, 30) == {}  # nothing faust would drop
        again = await kafka.getmany(changelog, timeout_ms=10_000)
        assert [record.offset for record in again.get(changelog, [])] == [0]
    finally:
        await producer.stop()
        await kafka.stop()


def _assignment(kafka: AIOKafkaConsumer) -> object:
    subscription = kafka._subscription.subscription
    return subscription.assignment if subscription is not None else None
