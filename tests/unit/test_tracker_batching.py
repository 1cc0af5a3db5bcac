"""Batches close after the window while the tracker keeps up, and keep filling while it
reads records that reached Kafka long ago (a catch-up), through faust's own stream."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import faust
import pytest
from pydantic import ValidationError

from services.common.kafka_internals import ack_events, record_age
from services.tracker.batch_window import BatchWindow, take_batches
from services.tracker.settings import TrackerSettings

WINDOW = 0.1
HOUR = 3600.0


@dataclass
class Taken:
    batches: list[list[int]] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    events: list[Any] = field(default_factory=list)  # the stream events, as taken
    alive_once_let_go: list[list[int]] = field(default_factory=list)  # if not kept

    async def until(self, events: int) -> None:
        async with asyncio.timeout(20):
            while sum(map(len, self.batches)) < events:
                self.arrived.clear()
                await self.arrived.wait()


@asynccontextmanager
async def batching_agent(
    tmp_path: Path,
    max_events: int,
    backlog_within: float,
    ack: bool = True,
    window: float = WINDOW,
    keep: bool = True,
) -> AsyncIterator[tuple[Any, Taken]]:
    app = faust.App(
        f"batching-{time.monotonic_ns()}", store="memory://", web_enabled=False, datadir=tmp_path
    )
    taken = Taken()

    @app.agent(value_type=int)
    async def collect(stream: Any) -> None:
        async for batch in take_batches(
            stream, BatchWindow(max_events, within=window, backlog_within=backlog_within)
        ):
            if ack:
                ack_events(batch)
            taken.batches.append([event.value for event in batch])
            if keep:
                taken.events.extend(batch)
            else:  # let go, as the tracker does before it collects garbage
                refs = [weakref.ref(event) for event in batch]
                del batch
                alive = [event for event in (ref() for ref in refs) if event is not None]
                taken.alive_once_let_go.append([event.value for event in alive])
            taken.arrived.set()

    try:
        async with collect.test_context() as agent:
            yield agent, taken
    finally:
        # The in-memory context still builds faust's Kafka consumer to ack through, and
        # its thread's event loop never runs: close it rather than leak its sockets.
        if app._consumer is not None:
            app._consumer._thread.thread_loop.close()  # type: ignore[attr-defined]


async def two_fresh_batches(agent: Any, taken: Taken) -> None:
    """Three fresh records, then two more after the first batch's window has closed."""
    await put(agent, range(3), age=0)
    await taken.until(3)
    await asyncio.sleep(3 * WINDOW)
    await put(agent, range(3, 5), age=0)
    await taken.until(5)


async def put(agent: Any, values: range, age: float) -> None:
    sent_at = time.time() - age
    for value in values:
        await agent.put(value, timestamp=sent_at, wait=False)


async def test_a_tracker_that_keeps_up_closes_each_batch_after_the_window(
    tmp_path: Path,
) -> None:
    async with batching_agent(tmp_path, max_events=1000, backlog_within=30) as (agent, taken):
        started = time.monotonic()
        await two_fresh_batches(agent, taken)

    assert taken.batches == [[0, 1, 2], [3, 4]]
    assert all(event.message.acked for event in taken.events)
    # fresh records never wait for the backlog window (30 s)
    assert time.monotonic() - started < 15


async def test_records_from_long_ago_keep_filling_the_batch_past_the_window(
    tmp_path: Path,
) -> None:
    window = 0.5  # the batch looks for more every 50 ms once the window has closed
    async with batching_agent(tmp_path, 10_000, backlog_within=30, window=window) as (
        agent,
        taken,
    ):
        # A catch-up: old records keep coming for three windows.
        sent = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + 3 * window
        while loop.time() < until:
            await put(agent, range(sent, sent + 1), age=HOUR)
            sent += 1
            await asyncio.sleep(0.005)
        await taken.until(sent)

    per_window = sent / 3
    assert len(taken.batches[0]) > 1.5 * per_window  # it outlived its window


async def test_a_backlog_batch_closes_at_the_end_of_the_log(tmp_path: Path) -> None:
    # Old records, then nothing more: no reason to wait for the backlog window (30 s).
    async with batching_agent(tmp_path, max_events=1000, backlog_within=30) as (agent, taken):
        started = time.monotonic()
        await put(agent, range(3), age=HOUR)
        await taken.until(3)

    assert taken.batches == [[0, 1, 2]]
    assert time.monotonic() - started < 15


async def test_a_backlog_batch_closes_when_the_tracker_catches_up(tmp_path: Path) -> None:
    async with batching_agent(tmp_path, max_events=1000, backlog_within=30) as (agent, taken):
        started = time.monotonic()
        await put(agent, range(3), age=HOUR)
        await put(agent, range(3, 5), age=0)  # the newest record taken is fresh
        await taken.until(5)

    assert taken.batches == [[0, 1, 2, 3, 4]]
    assert time.monotonic() - started < 15


async def test_a_backlog_batch_never_outgrows_its_size(tmp_path: Path) -> None:
    async with batching_agent(tmp_path, max_events=4, backlog_within=30) as (agent, taken):
        await put(agent, range(10), age=HOUR)
        await taken.until(8)

    assert taken.batches[:2] == [[0, 1, 2, 3], [4, 5, 6, 7]]


async def test_a_batch_stays_unacked_until_the_agent_acks_it(tmp_path: Path) -> None:
    # Offsets may be committed only past what the agent acked; this agent acks nothing.
    async with batching_agent(tmp_path, 1000, backlog_within=30, ack=False) as (agent, taken):
        await two_fresh_batches(agent, taken)

        assert taken.batches == [[0, 1, 2], [3, 4]]
        assert not any(event.message.acked for event in taken.events)


async def test_a_batch_is_freed_as_soon_as_the_agent_lets_go_of_it(tmp_path: Path) -> None:
    # The tracker collects garbage between batches: a batch must be gone by then, freed
    # by reference counting, not left for the collector to walk.
    gc.disable()
    try:
        async with batching_agent(tmp_path, 1000, backlog_within=30, keep=False) as (
            agent,
            taken,
        ):
            await two_fresh_batches(agent, taken)
    finally:
        gc.enable()

    assert taken.batches == [[0, 1, 2], [3, 4]]
    # Nothing else holds an event: not the batching, nor faust's stream (not iterated).
    assert taken.alive_once_let_go == [[], []]


@pytest.mark.parametrize("age", [0, HOUR])
def test_a_record_is_as_old_as_its_kafka_time_and_fresh_without_one(age: float) -> None:
    @dataclass
    class Message:
        timestamp: float | None

    @dataclass
    class Event:
        message: Message

    now = time.time()
    assert record_age(Event(Message(None)), now) == 0.0
    assert record_age(Event(Message(now - age)), now) == pytest.approx(age)


def test_a_backlog_window_shorter_than_the_window_is_refused() -> None:
    with pytest.raises(ValidationError, match="tracker_backlog_batch_seconds"):
        TrackerSettings(
            kafka_bootstrap_servers="127.0.0.1:1",
            database_url="postgresql://tracker@127.0.0.1:1/none",
            tracker_batch_seconds=2.0,
            tracker_backlog_batch_seconds=1.0,
        )


class _Records:
    """Just enough of a faust app, stream and channel for `take_batches` to read from:
    a queue of events, an assignment generation, flow control and the log's end (the
    highwater, one past its last offset) of the one partition assigned."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.tracked: list[int] = []
        self.flow_active = True
        self.highwater = 0
        self.app = SimpleNamespace(
            consumer_generation_id=2,
            flow_control=SimpleNamespace(is_active=lambda: self.flow_active),
            topics=SimpleNamespace(_acking_topics={"events"}),
            consumer=SimpleNamespace(
                track_message=lambda m: self.tracked.append(m.offset),
                assignment=lambda: {("events", 0)},
                highwater=lambda tp: self.highwater,
            ),
        )
        self.stream = SimpleNamespace(
            app=self.app,
            channel=self,
            should_stop=False,
            _active_agens=set(),
            maybe_start=self._started,
        )

    def __aiter__(self) -> _Records:
        return self

    async def __anext__(self) -> Any:
        return await self.queue.get()

    async def _started(self) -> bool:
        return False

    def put(self, offset: int, generation: int, timestamp: float | None = None) -> None:
        message = SimpleNamespace(
            topic="events",
            tp=("events", 0),
            offset=offset,
            generation_id=generation,
            tracked=False,
            timestamp=timestamp,
        )
        self.queue.put_nowait(SimpleNamespace(message=message))


async def test_records_read_before_a_rebalance_are_dropped_and_the_rest_tracked() -> None:
    # faust delivers the records of a revoked assignment again; taking one twice would
    # ack an offset twice over. What is taken is tracked: no commit passes it unacked.
    records = _Records()
    records.put(0, generation=1)  # fetched under the previous assignment
    records.put(1, generation=2)
    records.put(2, generation=2)
    batches = take_batches(records.stream, BatchWindow(100, within=WINDOW, backlog_within=30))

    batch = await anext(batches)
    await batches.aclose()

    assert [event.message.offset for event in batch] == [1, 2]
    assert records.tracked == [1, 2]
    assert all(event.message.tracked for event in batch)


async def test_records_delivered_while_flow_is_stopped_are_dropped() -> None:
    # Flow stops while a rebalance is under way; faust seeks and delivers them again.
    records = _Records()
    records.flow_active = False
    records.put(0, generation=2)
    records.put(1, generation=2)
    batches = take_batches(records.stream, BatchWindow(100, within=WINDOW, backlog_within=30))
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(3 * WINDOW)
    records.flow_active = True
    records.put(2, generation=2)

    batch = await asyncio.wait_for(taking, 10)
    await batches.aclose()

    assert [event.message.offset for event in batch] == [2]
    assert records.tracked == [2]


async def test_a_backlog_batch_waits_out_a_pause_in_delivery_while_the_log_holds_more() -> None:
    # Under load the fetcher can leave the queue empty for a while, far behind the log's
    # end: closing the batch then would store a small batch at a higher cost per event.
    records = _Records()
    records.highwater = 5  # offsets 0-4 are in the log
    long_ago = time.time() - HOUR
    records.put(0, generation=2, timestamp=long_ago)
    records.put(1, generation=2, timestamp=long_ago)
    batches = take_batches(records.stream, BatchWindow(100, within=WINDOW, backlog_within=30))
    taking = asyncio.ensure_future(anext(batches))
    await asyncio.sleep(3 * WINDOW)  # three windows, thirty slices, nothing delivered
    for offset in range(2, 5):
        records.put(offset, generation=2, timestamp=long_ago)

    batch = await asyncio.wait_for(taking, 10)
    await batches.aclose()

    assert [event.message.offset for event in batch] == [0, 1, 2, 3, 4]


async def test_a_backlog_batch_closes_at_once_when_nothing_is_left_in_the_log() -> None:
    records = _Records()
    records.highwater = 2
    long_ago = time.time() - HOUR
    records.put(0, generation=2, timestamp=long_ago)
    records.put(1, generation=2, timestamp=long_ago)
    batches = take_batches(records.stream, BatchWindow(100, within=WINDOW, backlog_within=30))
    started = time.monotonic()

    batch = await asyncio.wait_for(anext(batches), 10)
    await batches.aclose()

    assert [event.message.offset for event in batch] == [0, 1]
    assert time.monotonic() - started < 5  # not the backlog window (30 s)
