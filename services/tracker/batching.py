"""Batches that stay small while the tracker keeps up and grow while it catches up.

faust's `Stream.take_events(max_, within)` yields what arrived within a fixed window
from the moment the agent asks. A batch's cost goes mostly with the consignments it
touches (each is rebuilt, written and announced once per batch), so under a backlog a
longer window pays: more of each consignment's events share one rebuild. Under live
traffic it only adds latency, every event waiting for its window to close.

`take_batches` is `take_events` with two changes. When the window closes it looks at
the newest record taken. If that record had reached Kafka more than a window before it
was taken, the tracker reads behind the log, so the batch keeps filling, in short
slices, until it is full, the tracker has caught up (a record taken fresh, or a slice
in which nothing came: the end of the log), or `backlog_within` has passed since the
agent asked. A tracker that keeps up takes each record moments after it arrived and
flushes after `within`, as before.

The other change is who acks. `take_events` acks a batch's events when the agent asks
for the next batch, whatever became of them (also when the agent's body raised). Here
the agent acks them itself (`ack_batch`) once they are stored, so that "offsets move
only past stored events" is a line of the agent's, not a property of its loop.

Storing one batch while the next fills was tried and was slower (docs/tracker.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

from mode.utils.futures import notify

# While behind, the window is extended in slices of this share of `within`: a batch
# that has caught up flushes soon after, not a whole window later.
_SLICE_SHARE = 0.1


def record_age(event: Any, now: float) -> float:
    """Seconds since the event's record reached Kafka (0 when the record has no time)."""
    stamp = event.message.timestamp
    return now - stamp if stamp else 0.0


def take_batches(
    stream: Any,  # faust.Stream; its stubs lack the members take_events uses
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


async def _take_batches(
    stream: Any,
    max_events: int,
    within: float,
    backlog_within: float,
    clock: Callable[[], float],
) -> AsyncGenerator[list[Any], None]:
    loop = asyncio.get_running_loop()
    events: list[Any] = []
    full = asyncio.Event()
    consumed = asyncio.Event()
    consuming: asyncio.Future[None] | None = None
    newest_age = 0.0  # of the newest record taken, when it was taken

    async def add_to_batch(value: Any) -> Any:
        nonlocal consuming, newest_age
        try:
            if consuming is not None:  # the agent holds the previous batch
                try:
                    await consuming
                finally:
                    consuming = None
            event = stream.current_event
            if event is None:
                raise RuntimeError("batch found no current event")
            events.append(event)
            newest_age = record_age(event, clock())
            if len(events) >= max_events:
                full.set()
                consumed.clear()
                await stream.wait(consumed)  # never more than max_events in a batch
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            stream.log.exception("Error adding to batch: %r", exc)
            await stream.crash(exc)
        return value

    def behind() -> bool:
        return bool(events) and newest_age > within

    def hand_over() -> list[Any]:
        nonlocal events
        taken, events = events, []
        return taken

    acks_enabled = stream.enable_acks
    stream.enable_acks = False  # the agent acks, once a batch is stored (`ack_batch`)
    stream.add_processor(add_to_batch)
    stream._enable_passive(aiter(stream.channel))
    try:
        while not stream.should_stop:
            asked = loop.time()
            await stream.wait_for_stopped(full, timeout=within)
            while not full.is_set() and not stream.should_stop and behind():
                left = backlog_within - (loop.time() - asked)
                if left <= 0:
                    break
                before = len(events)
                await stream.wait_for_stopped(full, timeout=min(left, within * _SLICE_SHARE))
                if len(events) == before:
                    break  # nothing more came: the end of the log, however old its records
            if not events:
                continue
            consuming = loop.create_future()
            try:
                # Handed over, not copied: once the agent lets go of the batch, nothing
                # here holds its events either, so they are freed at once.
                yield hand_over()
            finally:
                notify(consuming)
                full.clear()
                consumed.set()
    finally:
        stream.enable_acks = acks_enabled
        stream._processors.remove(add_to_batch)


async def ack_batch(stream: Any, events: Sequence[Any]) -> None:
    """Ack a batch's events: their offsets may be committed (call once it is stored)."""
    for event in events:
        await stream.ack(event)
