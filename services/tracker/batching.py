"""Batches that stay small while the tracker keeps up and grow while it catches up.

faust's `Stream.take_events(max_, within)` yields what arrived within a fixed window
from the moment the agent asks. A batch's cost goes mostly with the consignments it
touches (each is rebuilt, written and announced once per batch), so under a backlog a
longer window pays: more of each consignment's events share one rebuild. Under live
traffic it only adds latency, every event waiting for its window to close.

`take_batches` is `take_events` with three changes. When the window closes it looks at
the newest record taken. If that record had reached Kafka more than a window before it
was taken, the tracker reads behind the log, so the batch keeps filling, in short
slices, until it is full, the tracker has caught up (a record taken fresh, or a slice
in which nothing came while the log holds nothing past the records taken), or
`backlog_within` has passed since the agent asked. A quiet slice alone is no end of the
log: under load the fetcher often leaves the queue empty for a slice while partitions
are far behind, and each such batch closed small (12,871 events where 100,000 were
waiting), costing more per event. A tracker that keeps up takes each record moments
after it arrived and flushes after `within`, as before.

The second change is who acks. `take_events` acks a batch's events when the agent asks
for the next batch, whatever became of them (also when the agent's body raised). Here
the agent acks them itself (`ack_batch`) once they are stored, so that "offsets move
only past stored events" is a line of the agent's, not a property of its loop.

The third is how the events are taken. faust's stream hands the agent one event per
turn of the event loop, through a chain of coroutines (its iterator, each processor,
`on_merge`) and the monitor's calls in and out (~6 % of a worker's samples in a
profile, besides the event-loop turn per event; taking and acking now take ~4 %).
A batch needs none of that, so `take_batches` takes the events straight off the
stream's channel queue, as many as are there at once, and does per event only what
faust's iterator does for the record's sake: drop a record of an earlier assignment
(faust delivers it again), and track it as unacked, so that no offset is committed
past it before it is acked.

Storing one batch while the next fills was tried and was slower (docs/tracker.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from faust.exceptions import ConsumerNotStarted

# While behind, the window is extended in slices of this share of `within`: a batch
# that has caught up flushes soon after, not a whole window later.
_SLICE_SHARE = 0.1


def record_age(event: Any, now: float) -> float:
    """Seconds since the event's record reached Kafka (0 when the record has no time)."""
    stamp = event.message.timestamp
    return now - stamp if stamp else 0.0


def take_batches(
    stream: Any,  # faust.Stream; its stubs lack the members used here
    max_events: int,
    within: float,
    backlog_within: float,
    clock: Callable[[], float] = time.time,
) -> AsyncGenerator[list[Any], None]:
    """Yield lists of stream events: at most `max_events`, after `within` seconds while
    the records are fresh, after up to `backlog_within` while they are older than that.
    Nothing is acked here: pass each batch to `ack_batch` once it is stored."""
    batches = _take_batches(stream, max_events, within, backlog_within, clock)
    # As faust does for take_events: the stream closes a generator left open at its stop.
    stream._active_agens.add(batches)
    return batches


class _ChannelTaker:
    """Takes events off a stream's channel queue as faust's stream iterator would,
    without its per-event coroutines (see the module's docstring), into `events`."""

    def __init__(self, stream: Any, clock: Callable[[], float]) -> None:
        app = stream.app
        # Iterating a topic registers it with the conductor, which then fills its queue.
        self._queue = aiter(stream.channel).queue
        self._app = app
        self._flow_control = app.flow_control
        self._acking_topics = app.topics._acking_topics  # live: faust updates it in place
        self._consumer = app.consumer
        self._clock = clock
        self._newest_offsets: dict[Any, int] = {}  # per partition taken from
        self.events: list[Any] = []
        self.newest_age = 0.0  # of the newest record taken, when it was taken

    def take_waiting(self, limit: int) -> None:
        """Take the events already queued, until `events` holds `limit`."""
        queue, events = self._queue, self.events
        before = len(events)
        while len(events) < limit and not queue.empty():
            # get_nowait, not the queue's deque: faust resumes fetching as a full one ebbs.
            self._take(queue.get_nowait())
        if len(events) > before:
            self.newest_age = record_age(events[-1], self._clock())

    async def take_next(self, seconds: float) -> bool:
        """Wait up to `seconds` for one more event; False when none came."""
        try:
            event = await asyncio.wait_for(self._queue.get(), seconds)
        except TimeoutError:
            return False
        if self._take(event):
            self.newest_age = record_age(event, self._clock())
        return True

    def records_left(self) -> bool:
        """Whether a partition taken from holds records past the newest taken, as of the
        consumer's last fetch (its highwater)."""
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
        """The events taken, which nothing here holds any more: once the agent lets go
        of them they are freed at once."""
        taken, self.events = self.events, []
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
        self.events.append(event)
        return True


async def _take_batches(
    stream: Any,
    max_events: int,
    within: float,
    backlog_within: float,
    clock: Callable[[], float],
) -> AsyncGenerator[list[Any], None]:
    loop = asyncio.get_running_loop()
    await stream.maybe_start()
    taker = _ChannelTaker(stream, clock)

    async def fill(until: float) -> None:
        """Take events until the batch is full or the loop's clock reaches `until`."""
        while True:
            taker.take_waiting(max_events)
            left = until - loop.time()
            if len(taker.events) >= max_events or left <= 0 or stream.should_stop:
                return
            if not await taker.take_next(left):
                return

    def behind() -> bool:
        return bool(taker.events) and taker.newest_age > within

    try:
        while not stream.should_stop:
            asked = loop.time()
            await fill(asked + within)
            while len(taker.events) < max_events and not stream.should_stop and behind():
                left = backlog_within - (loop.time() - asked)
                if left <= 0:
                    break
                before = len(taker.events)
                await fill(loop.time() + min(left, within * _SLICE_SHARE))
                if len(taker.events) == before and not taker.records_left():
                    break  # caught up: the end of the log, however old its records
            if taker.events:
                yield taker.hand_over()
    except StopAsyncIteration:
        return  # the channel ended (faust's iterator ends the same way)


def ack_batch(stream: Any, events: Sequence[Any]) -> None:
    """Ack a batch's events: their offsets may be committed (call once it is stored)."""
    on_message_out = stream._on_message_out
    for event in events:
        if event.ack():  # the last reference to its record: faust may commit past it
            message = event.message
            on_message_out(message.tp, message.offset, message)
