"""Every use of faust-streaming's, mode's and aiokafka's private API in the project.

The rest of the code sees small public functions and classes here, and never a private
name of those libraries (`tests/unit/test_kafka_internals_seam.py` enforces it). Why each
piece exists, and what it cost or saved when measured, is in docs/tracker.md
(*Record delivery*, *Batches*, *Logging and monitoring*) and docs/ingest.md. This module
loads faust: ingest, which needs only `drop_buffered_records`, pays its import once.

On a faust-streaming, mode or aiokafka upgrade, re-check against the new source:

- `DirectDeliveryConsumer.wait_first`: faust's `Consumer._drain_messages` still delivers
  through `self.wait_first(callback(message), self.suspend_flow.wait())`, and mode's
  `Service.wait_first` still returns `WaitResults` and checks `_stopped` / `_crashed`.
- `DirectDeliveryConsumer.perform_seek`: faust's recovery (`on_recovery_completed` in
  `faust/tables/recovery.py`) still resumes partitions, seeks, then resumes flow control,
  which empties the stream queues.
- `SingleAssignmentFetchThread`: faust's `AIOKafkaConsumerThread._fetch_records` still
  passes its live set of active partitions to aiokafka's `Fetcher.fetched_records`, which
  still reads an empty set as every partition; aiokafka still keeps positions in the
  `Assignment` it replaces at each rebalance (`_subscription.subscription.assignment`).
- `DirectDeliveryConsumer.seek_to_committed`: aiokafka still skips offsets of 0, and
  `Consumer._thread.seek_to_beginning` still exists; faust's `perform_seek` (called by
  recovery after every assignment) still takes its result as the read and committed
  offsets, and the consumer still has its `transport`.
- `read_assignment_again`: faust's aiokafka consumer thread still has `cast_thread` and
  `_ensure_consumer`, and aiokafka's group coordinator `request_rejoin`.
- `ChannelTaker`: faust's stream iterator (`Stream.__aiter__` / `_py_aiter`) still drops
  records whose `generation_id` differs from `app.consumer_generation_id` or that arrive
  while flow is stopped, and tracks acking-topic messages with `Consumer.track_message`;
  `app.topics._acking_topics` is still a live set; the channel's iterator still has a
  `queue` with `get_nowait` (which resumes paused partitions as it ebbs).
- `close_with_stream`: `Stream._active_agens`. `ack_events`: the app's sensors are only
  its monitor (else they would miss `on_message_out`).
- `on_behalf_of`: `faust.streams._current_event` is still the context variable a
  table reads to choose the partition of a write.
- `QuietWorker.on_setup_root_logger` (the spinner) and `QuietMonitor.on_message_in` (the
  consumer's per-record call) still have these signatures.
- `drop_buffered_records`: aiokafka's `producer._message_accumulator.fail_all`.
- `IdempotentProducer`: faust's aiokafka `Producer._new_producer` still merges
  `_settings_extra()` into aiokafka's producer arguments.
- `use_direct_delivery`, `WireBytes`: `app.transport` may still be replaced before first
  use, its class still builds consumers from `Consumer`, and `Schema.loads_key` /
  `loads_value` are still what a topic's channel calls per record.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Coroutine,
    Generator,
    Iterator,
    Mapping,
    Sequence,
)
from contextlib import contextmanager
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.exceptions import ConsumerNotStarted
from faust.sensors import Monitor
from faust.streams import _current_event
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service
from mode.services import WaitResults

log = logging.getLogger(__name__)

# Per (topic, partition) just assigned, the next offset the records' sink holds.
ResumePoints = Callable[[Sequence[tuple[str, int]]], Awaitable[Mapping[tuple[str, int], int]]]
# A sink that does not answer by then is skipped: its next write notices if it is behind.
RESUME_POINTS_TIMEOUT_SECONDS = 30.0

__all__ = [
    "ChannelTaker",
    "DirectDeliveryConsumer",
    "IdempotentProducer",
    "QuietMonitor",
    "QuietWorker",
    "WireBytes",
    "ack_events",
    "close_with_stream",
    "drop_buffered_records",
    "on_behalf_of",
    "read_assignment_again",
    "record_age",
    "start_taking",
    "use_direct_delivery",
]


# --- the consumer: records handed to the stream without per-record tasks -----------------


class _Resumed:
    """The rest of a coroutine that was stepped once and suspended on `awaited`."""

    def __init__(self, coro: Coroutine[Any, Any, Any], awaited: Any) -> None:
        self._coro = coro
        self._awaited = awaited

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, awaited = self._coro, self._awaited
        while True:
            try:
                sent = yield awaited  # the task waits on what the coroutine awaited
            except BaseException as exc:  # cancellation, close: the coroutine handles it
                try:
                    awaited = coro.throw(exc)
                except StopIteration as finished:
                    return finished.value
                continue
            try:
                awaited = coro.send(sent)
            except StopIteration as finished:
                return finished.value


class DirectWaitFirst(Service):
    """`Service.wait_first`, without its tasks when the first coroutine never waits: one
    that finished at its first step could not have been raced."""

    async def wait_first(self, *coros: Any, timeout: Any = None) -> WaitResults:  # noqa: ASYNC109 (mode's signature)
        first = coros[0] if coros else None
        if (
            not asyncio.iscoroutine(first)
            or self._stopped.is_set()  # let mode report the stop as it always has
            or self._crashed.is_set()
        ):
            return await super().wait_first(*coros, timeout=timeout)
        try:
            awaited = first.send(None)
        except StopIteration as finished:
            _close(coros[1:])
            return WaitResults([first], [finished.value], False)
        except BaseException:
            _close(coros[1:])
            raise
        # It waits (a full buffer, stopped flow): race it as mode would, so a rebalance
        # can still interrupt it.
        return await super().wait_first(_Resumed(first, awaited), *coros[1:], timeout=timeout)


def _close(waitables: tuple[Any, ...]) -> None:
    for waitable in waitables:
        if asyncio.iscoroutine(waitable):
            waitable.close()  # never started; closing avoids "never awaited" warnings


async def fetch_within_one_assignment(
    consumer: AIOKafkaConsumer, fetching: Awaitable[RecordMap]
) -> RecordMap:
    """The records `fetching` drains from `consumer`, or none if the group rebalanced
    meanwhile: those are put back (each partition sought to its first), for the next
    fetch to read under the assignment faust has resumed by then.

    A fetch waiting when the group rebalances goes on with faust's set of active
    partitions, which the rebalance empties, and aiokafka reads an empty set as every
    partition: it drains the changelog records table recovery has just sought to, and
    faust, not asking for them, drops them. Recovery then waits for them for ever."""
    started_under = _assignment(consumer)
    records = await fetching
    if not records or _assignment(consumer) is started_under:
        return records
    assigned = consumer.assignment()
    for tp, batch in records.items():
        if batch and tp in assigned:
            consumer.seek(tp, batch[0].offset)
    return {}


def _assignment(consumer: AIOKafkaConsumer) -> object:
    # aiokafka makes a new Assignment, with new positions, at each rebalance.
    subscription = consumer._subscription.subscription
    return subscription.assignment if subscription is not None else None


class SingleAssignmentFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose fetch hands over no record drained under an
    assignment newer than the one it started under (`fetch_within_one_assignment`)."""

    async def _fetch_records(
        self,
        consumer: AIOKafkaConsumer,
        active_partitions: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (faust's signature)
        max_records: int | None = None,
    ) -> RecordMap:
        fetching = super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        return await fetch_within_one_assignment(consumer, fetching)


class DirectDeliveryConsumer(DirectWaitFirst, faust_aiokafka.Consumer):
    """faust's aiokafka consumer with direct delivery, a seek that loses nothing, and a
    fetch that loses nothing across a rebalance."""

    def _new_consumer_thread(self) -> SingleAssignmentFetchThread:
        return SingleAssignmentFetchThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        # Records queued during the seek would be emptied, untracked, when recovery
        # resumes flow: stop delivery first so everything is read again from the seek.
        # A caller that found flow stopped keeps it so.
        if self.flow_active:
            self.stop_flow()
        await super().perform_seek()

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        # aiokafka seeks only to offsets above 0: a never-committed partition would keep
        # a position past records dropped before. Start it over, as "earliest" would;
        # not the tables' changelogs, which faust restores by itself.
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            uncommitted = [
                tp
                for tp, offset in committed.items()
                if not offset and self.app.topics.acks_enabled_for(tp.topic)
            ]
            if uncommitted:
                await self._thread.seek_to_beginning(*uncommitted)
        transport = self.transport
        resume_points = (
            transport.resume_points if isinstance(transport, DirectDeliveryTransport) else None
        )
        if resume_points is None:
            return committed
        return await self._rewind_to_sink(committed, resume_points)

    async def _rewind_to_sink(
        self, committed: Mapping[Any, int], resume_points: ResumePoints
    ) -> Mapping[Any, int]:
        # The sink's offsets, kept with its rows, are the truth of what it holds: where
        # they are behind the group's (a restored database), read again from them.
        acking = [tp for tp in committed if self.app.topics.acks_enabled_for(tp.topic)]
        if not acking:
            return committed
        try:
            stored = await asyncio.wait_for(
                resume_points([(tp.topic, tp.partition) for tp in acking]),
                RESUME_POINTS_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            log.error("no resume points within %.0f s", RESUME_POINTS_TIMEOUT_SECONDS)
            return committed
        seeked = dict(committed)
        for tp in acking:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None and offset < (committed[tp] or 0):
                log.warning(
                    "%s: the database holds up to %d, the group %d: reading again",
                    tp,
                    offset,
                    committed[tp],
                )
                await self.seek(tp, offset)
                seeked[tp] = offset
        return seeked


class IdempotentProducer(faust_aiokafka.Producer):
    """faust's aiokafka producer, idempotent: a retried send (a leader that failed over
    after writing) is not written twice. faust turns idempotence on only with its
    transactions (exactly-once), which this app does not use."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


class DirectDeliveryTransport(faust_aiokafka.Transport):
    Consumer = DirectDeliveryConsumer
    Producer = IdempotentProducer
    resume_points: ResumePoints | None = None


def use_direct_delivery(app: faust.App, resume_points: ResumePoints | None = None) -> None:
    """Give `app` the direct-delivery transport (and an idempotent producer). Call right
    after creating the app, before anything (topics, tables, agents) builds its own.
    `resume_points`: after each assignment, where the records' sink (the database) says
    it stands; a partition the group has committed further is read again from there."""
    transport = DirectDeliveryTransport(app.conf.broker_consumer, app)
    transport.resume_points = resume_points
    app.transport = transport


async def read_assignment_again(app: faust.App) -> None:
    """Have `app`'s consumer rejoin its group: the rebalance revokes and assigns its
    partitions again, drops what was read meanwhile and seeks (see `seek_to_committed`)."""
    thread = app.consumer._thread  # type: ignore[attr-defined]
    # Cast, not call: a rebalance under way holds the consumer thread until the stream's
    # records are acked, and the caller is the stream.
    await thread.cast_thread(_request_rejoin, thread._ensure_consumer())


async def _request_rejoin(consumer: Any) -> None:
    consumer._coordinator.request_rejoin()


class WireBytes(faust.Schema[bytes | None, bytes]):
    """Keys and values as the bytes on the wire, for a topic whose records the agent
    decodes itself (faust's "raw" serializer goes through its codec registry)."""

    def loads_key(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.key

    def loads_value(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.value


# --- the worker and its monitor -----------------------------------------------------------


class QuietWorker(faust.Worker):
    """faust's worker without the terminal spinner, which turns the root logger to DEBUG
    so that every library debug call builds a log record."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class QuietMonitor(Monitor):
    """faust's monitor without its bookkeeping of each record received, which only feeds
    faust's web statistics page (nothing serves or reads it). Commits, end offsets,
    tables and the producer are still followed. Its per-event stream hooks need no
    override: batches are taken off the channel queue, past the stream's iterator that
    calls them, and `ack_events` leaves the sensors out."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None


# --- the stream: batches taken straight off the channel queue -----------------------------


def record_age(event: Any, now: float) -> float:
    """Seconds since the event's record reached Kafka (0 when the record has no time)."""
    stamp = event.message.timestamp
    return now - stamp if stamp else 0.0


class ChannelTaker:
    """A `batch_window.Taker` over a stream's channel queue: does per event only what
    faust's stream iterator does for the record's sake (drop a record of an earlier
    assignment, track it as unacked), without its per-event coroutines."""

    def __init__(self, stream: Any, clock: Callable[[], float]) -> None:
        app = stream.app
        self._stream = stream
        # Iterating a topic registers it with the conductor, which then fills its queue.
        self._queue = aiter(stream.channel).queue
        self._app = app
        self._flow_control = app.flow_control
        self._acking_topics = app.topics._acking_topics  # live: faust updates it in place
        self._consumer = app.consumer
        self._clock = clock
        self._newest_offsets: dict[Any, int] = {}  # per partition taken from
        self._events: list[Any] = []
        self._newest_age = 0.0  # of the newest record taken, when it was taken
        self._oldest_age = 0.0  # of the batch's first record, when it was taken

    @property
    def taken(self) -> int:
        return len(self._events)

    @property
    def newest_age(self) -> float:
        return self._newest_age

    @property
    def oldest_age(self) -> float:
        return self._oldest_age

    @property
    def stopping(self) -> bool:
        return bool(self._stream.should_stop)

    def take_waiting(self, limit: int) -> None:
        queue, events = self._queue, self._events
        before = len(events)
        while len(events) < limit and not queue.empty():
            # get_nowait, not the queue's deque: faust resumes fetching as a full one ebbs.
            self._take(queue.get_nowait())
        if len(events) > before:
            now = self._clock()
            self._newest_age = record_age(events[-1], now)
            if not before:
                self._oldest_age = record_age(events[0], now)

    async def take_next(self, seconds: float) -> bool:
        try:
            event = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return False
        if self._take(event):
            self._newest_age = record_age(event, self._clock())
            if len(self._events) == 1:
                self._oldest_age = self._newest_age
        return True

    def records_left(self) -> bool:
        if not self._flow_control.is_active():
            return False  # a rebalance: the assignment is changing
        consumer = self._consumer
        try:
            assigned = consumer.assignment()
        except ConsumerNotStarted:  # an agent's test context, with no Kafka log
            return False
        return any(
            offset + 1 < (consumer.highwater(tp) or 0)
            for tp, offset in self._newest_offsets.items()
            if tp in assigned
        )

    def hand_over(self) -> list[Any]:
        # Nothing here keeps the events: once the caller lets go they are freed at once.
        taken, self._events = self._events, []
        return taken

    def _take(self, event: Any) -> bool:
        message = event.message
        if (
            not self._flow_control.is_active()
            or message.generation_id != self._app.consumer_generation_id
        ):
            return False  # read before a rebalance: dropped, as faust's iterator drops it
        if message.topic in self._acking_topics and not message.tracked:
            message.tracked = True
            self._consumer.track_message(message)  # no commit past it until it is acked
        self._newest_offsets[message.tp] = message.offset
        self._events.append(event)
        return True


async def start_taking(stream: Any, clock: Callable[[], float]) -> ChannelTaker:
    """Start `stream` (as its iterator would) and a taker over its channel."""
    await stream.maybe_start()
    return ChannelTaker(stream, clock)


def close_with_stream(stream: Any, batches: AsyncGenerator[Any, None]) -> None:
    """Have the stream close `batches` when it stops, as faust does for take_events."""
    stream._active_agens.add(batches)


def ack_events(events: Sequence[Any]) -> None:
    """Ack stream events: their offsets may be committed (call once they are stored).
    faust's iterator would also tell the sensors; the only one, the monitor, ignores it."""
    for event in events:
        event.ack()


# --- tables -------------------------------------------------------------------------------


@contextmanager
def on_behalf_of(stream_event: Any) -> Iterator[None]:
    """Table writes made inside go to the partition of `stream_event`'s record, as if
    the agent were processing that event (faust files a write under the current one)."""
    token = _current_event.set(weakref.ref(stream_event))
    try:
        yield
    finally:
        _current_event.reset(token)


# --- aiokafka's producer ------------------------------------------------------------------


def drop_buffered_records(producer: AIOKafkaProducer, cause: BaseException) -> None:
    """Fail every record still buffered in `producer`, so none is delivered later."""
    producer._message_accumulator.fail_all(cause)
