"""Batches taken straight off a stream's channel queue, acked, and table writes filed
under the event they come from."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from faust.exceptions import ConsumerNotStarted
from faust.streams import _current_event


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


@contextmanager
def on_behalf_of(stream_event: Any) -> Iterator[None]:
    """Table writes made inside go to the partition of `stream_event`'s record, as if
    the agent were processing that event (faust files a write under the current one)."""
    token = _current_event.set(weakref.ref(stream_event))
    try:
        yield
    finally:
        _current_event.reset(token)
