"""When a tracker worker's cyclic garbage collector runs: between batches, not during them.

CPython's collector runs after every so many allocations. A batch holds everything it
took until it is stored (faust's events and messages, the decoded events), so every
collection during a batch walks up to a whole batch of live objects, only for them to
die, by reference counting, once the batch is acked. That cost ~11 % of a worker's CPU
in a 400k-event catch-up (gc callbacks, `docs/tracker.md`).

So the worker turns automatic collection off and collects here: the young generations
after each batch, once its objects are gone (what is left is mostly the histories the
batch added to the cache, walked once); and everything every `full_every` seconds, for
cycles that reached the old generation. A timer (`tick`) does both when no batch has
ended for `young_every` seconds (an idle worker, or one waiting out a database outage),
so garbage never waits unbounded. That must be longer than a batch takes to fill and
store (the backlog window is up to 60 s): a collection in the middle of a batch walks
every object the batch holds. With 10 s it fired in most 15-s catch-up batches and cost
~12 % of a worker's CPU (py-spy, 400k events).
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class BatchPacedCollection:
    def __init__(
        self,
        young_every: float = 120.0,
        full_every: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], int] = gc.collect,
    ) -> None:
        self._young_every = young_every
        self._full_every = full_every
        self._clock = clock
        self._collect = collect
        self._last_young = self._last_full = clock()
        self._active = False

    @property
    def young_every(self) -> float:
        return self._young_every

    @property
    def tick_every(self) -> float:
        """How often to call `tick`."""
        return self._young_every / 4

    @property
    def active(self) -> bool:
        return self._active

    def take_over(self) -> None:
        """Turn automatic collection off for the process; from now on collect here."""
        gc.disable()
        self._active = True
        self._last_young = self._last_full = self._clock()

    def hand_back(self) -> None:
        gc.enable()
        self._active = False

    def after_batch(self) -> None:
        """A batch was stored and acked: its objects are gone, collect what is left."""
        if self._active:
            self._run(self._clock())

    def tick(self) -> None:
        """Collect if no batch has done so for `young_every` seconds."""
        if self._active:
            now = self._clock()
            if now - self._last_young >= self._young_every:
                self._run(now)

    def _run(self, now: float) -> None:
        if now - self._last_full >= self._full_every:
            found = self._collect(2)
            self._last_full = now
            log.debug("full collection found %d unreachable objects", found)
        else:
            self._collect(1)
        self._last_young = now
