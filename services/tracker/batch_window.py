"""When a batch closes: soon while the tracker keeps up, large while it catches up.

While the tracker keeps up, a batch closes once its first record has spent the latency
budget (`within`) since it reached Kafka, or once it holds `live_max_events`, whichever
comes first. A record that already waited longer (while the previous batch was being
stored) closes its batch at once with whatever else is waiting, so the batch size
follows the load and an event is queryable about one budget plus one batch's work after
it was posted.

A batch's cost goes mostly with the consignments it touches, so under a backlog a
larger batch pays. If the newest record taken had reached Kafka more than `within`
earlier, the tracker reads behind the log, and the batch keeps filling, in short
slices, until it holds `max_events`, the tracker has caught up (a record taken fresh,
or a quiet slice while the log holds nothing past the records taken), or
`backlog_within` has passed since the agent asked. A quiet slice alone is no end of the
log: the fetcher often leaves the queue empty for a moment while partitions are far
behind. docs/tracker.md (*Batches*) has the measurements.

Pure policy over a `Taker`; `take_batches` runs it over a faust stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from services.common.kafka_internals import close_with_stream, start_taking


class Taker(Protocol):
    """Where a batch's records come from, and what the policy needs to know of them."""

    @property
    def taken(self) -> int:
        """Records taken into the batch so far."""
        ...

    @property
    def newest_age(self) -> float:
        """Seconds the newest record taken had spent in Kafka when it was taken."""
        ...

    @property
    def oldest_age(self) -> float:
        """Seconds the batch's first record had spent in Kafka when it was taken."""
        ...

    @property
    def stopping(self) -> bool: ...

    def take_waiting(self, limit: int) -> None:
        """Take the records already waiting, until `limit` are taken."""
        ...

    async def take_next(self, seconds: float) -> bool:
        """Wait up to `seconds` for one more record; False when none came."""
        ...

    def records_left(self) -> bool:
        """Whether the log holds records past the newest taken (as last fetched)."""
        ...


@dataclass(frozen=True)
class BatchWindow:
    max_events: int  # while catching up
    within: float  # the latency budget while keeping up; the idle wait for a first record
    backlog_within: float
    live_max_events: int | None = None  # while keeping up; None: `max_events`
    # While behind, the window grows in slices of this share of `within`, so a batch
    # that has caught up closes soon after, not a whole window later.
    slice_share: float = 0.1

    @property
    def live_size(self) -> int:
        return min(self.live_max_events or self.max_events, self.max_events)


async def fill_batch(taker: Taker, window: BatchWindow, clock: Callable[[], float]) -> None:
    """Take records until `window` closes the batch. `clock`: monotonic seconds. With no
    record within `within`, the batch stays empty."""
    asked = clock()
    taker.take_waiting(window.live_size)
    if not taker.taken:
        await taker.take_next(window.within)
        if not taker.taken:
            return
    # Ages come from Kafka's timestamps; one from a clock ahead of ours counts as fresh.
    spent = min(max(taker.oldest_age, 0.0), window.within)
    await _fill(taker, window.live_size, clock, clock() + window.within - spent)
    while _may_grow(taker, window) and taker.newest_age > window.within:
        left = window.backlog_within - (clock() - asked)
        if left <= 0:
            return
        before = taker.taken
        await _fill(
            taker, window.max_events, clock, clock() + min(left, window.within * window.slice_share)
        )
        if taker.taken == before and not taker.records_left():
            return  # caught up: the end of the log, however old its records


def _may_grow(taker: Taker, window: BatchWindow) -> bool:
    return 0 < taker.taken < window.max_events and not taker.stopping


async def _fill(taker: Taker, max_events: int, clock: Callable[[], float], until: float) -> None:
    """Take records until the batch is full or `clock` reaches `until`."""
    while True:
        taker.take_waiting(max_events)
        left = until - clock()
        if taker.taken >= max_events or left <= 0 or taker.stopping:
            return
        if not await taker.take_next(left):
            return


def take_batches(
    stream: Any,  # faust.Stream; its stubs lack the members used here
    window: BatchWindow,
    clock: Callable[[], float] = time.time,
) -> AsyncGenerator[list[Any], None]:
    """Yield lists of stream events as `window` closes them. Nothing is acked here: ack
    each batch (`kafka_internals.ack_events`) once it is stored. `clock`: wall time, to
    age records by their Kafka timestamps."""
    batches = _take_batches(stream, window, clock)
    close_with_stream(stream, batches)
    return batches


async def _take_batches(
    stream: Any, window: BatchWindow, clock: Callable[[], float]
) -> AsyncGenerator[list[Any], None]:
    loop = asyncio.get_running_loop()
    taker = await start_taking(stream, clock)
    try:
        while not stream.should_stop:
            await fill_batch(taker, window, loop.time)
            if taker.taken:
                yield taker.hand_over()
    except StopAsyncIteration:
        return  # the channel ended (faust's iterator ends the same way)
