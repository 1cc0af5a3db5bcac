"""Faust's Kafka transport, with records handed to the stream without per-record tasks.

faust-streaming's consumer loop (`Consumer._drain_messages`) delivers every record with
`self.wait_first(callback(message), self.suspend_flow.wait())`: `mode`'s `wait_first`
wraps each of those, plus the service's stopped and crashed events, in a task and waits
for the first, four tasks and three event-loop turns per record (~90 µs of CPU here,
most of a do-nothing agent's time). The race matters only when the delivery has to wait
(a full stream buffer, suspended flow, producer backpressure), so that a rebalance can
interrupt it (faust-streaming #229).

`DirectWaitFirst.wait_first` keeps that race and drops the rest: it steps the first
coroutine once, synchronously. One that finishes without waiting (the usual case: the
record went into the stream's queue) could not have been raced, so it returns at once.
One that waits is resumed as a task and raced exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator, Mapping
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from mode import Service
from mode.services import WaitResults


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
    """`Service.wait_first`, without its tasks when the first coroutine never waits."""

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
        return await super().wait_first(_Resumed(first, awaited), *coros[1:], timeout=timeout)


class DirectDeliveryConsumer(DirectWaitFirst, faust_aiokafka.Consumer):
    """faust's aiokafka consumer with direct delivery, and a seek that loses nothing.

    At the end of a rebalance faust resumes the stream partitions while flow is already
    active, seeks them to their committed offsets, and then resumes flow control, which
    empties every stream queue (`faust/tables/recovery.py`, `on_recovery_completed`;
    `mode.utils.queues.FlowControlEvent.resume`). Records fetched during the seek and
    still queued were dropped, never tracked, so never acked, and faust never fetched
    them again: the partition's commit stuck below them, and they stayed out of the
    database until the next rebalance. Direct delivery made it likelier, queuing a whole
    fetch at once. So delivery stops before the seek: everything delivered until then is
    at or above where the seek lands, and is read again (re-processing is idempotent).
    """

    async def perform_seek(self) -> None:
        # Both of faust's callers in recovery resume flow right after. The other caller
        # (a fetch that found flow stopped) has it stopped already: leave it so.
        if self.flow_active:
            self.stop_flow()
        await super().perform_seek()

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        # aiokafka seeks only to offsets above 0: a partition of ours never committed
        # keeps the position it had reached, past records dropped before. Start it over
        # as a fresh assignment would ("earliest"). Not the tables' changelogs, which
        # faust never commits and restores by itself.
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            uncommitted = [
                tp
                for tp, offset in committed.items()
                if not offset and self.app.topics.acks_enabled_for(tp.topic)
            ]
            if uncommitted:
                await self._thread.seek_to_beginning(*uncommitted)
        return committed


def _close(waitables: tuple[Any, ...]) -> None:
    for waitable in waitables:
        if asyncio.iscoroutine(waitable):
            waitable.close()  # never started; closing avoids "never awaited" warnings


class DirectDeliveryTransport(faust_aiokafka.Transport):
    Consumer = DirectDeliveryConsumer


class WireBytes(faust.Schema[bytes | None, bytes]):
    """Keys and values as the bytes on the wire, for a topic whose records the agent
    decodes itself. faust's "raw" serializer gives the same bytes by way of its codec
    registry, several calls per record (~5 µs of the tracker's CPU per event)."""

    def loads_key(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.key

    def loads_value(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.value


def use_direct_delivery(app: faust.App) -> None:
    """Give `app` the direct-delivery transport. Call right after creating the app,
    before anything (topics, tables, agents) makes it build its own."""
    app.transport = DirectDeliveryTransport(app.conf.broker_consumer, app)
