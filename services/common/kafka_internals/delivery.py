"""Records handed from faust's consumer to the streams without a task per record."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

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
