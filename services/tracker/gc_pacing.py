"""When a tracker worker's cyclic garbage collector runs: rarely, and never mid-batch.

CPython's collector runs after every so many allocations. A batch holds everything it
took until it is stored (faust's events and messages, the decoded events), so every
collection during a batch walks up to a whole batch of live objects, only for them to
die, by reference counting, once the batch is acked. That cost ~11 % of a worker's CPU
in a 400k-event catch-up (gc callbacks, `docs/tracker.md`). And what outlives a batch
is mostly the histories it added to the cache: acyclic, freed by reference counting
when evicted, yet walked again by every collection of their generation. Collecting the
young generations after each batch still cost ~10 % (py-spy, 1M events).

So the worker turns automatic collection off. After each batch it freezes what is left
(`gc.freeze`, constant time: the survivors move to a generation no collection walks;
they are still freed as soon as nothing refers to them). Every `full_every` seconds it
unfreezes everything and collects it all, so the few reference cycles a batch leaves
(exceptions, some futures) live at most that long. A timer (`tick`) collects the young
objects when no batch has ended for `young_every` seconds (an idle worker, or one
waiting out a database outage). That must be longer than a batch takes to fill and
store (the backlog window is up to 60 s): a collection in the middle of a batch walks
every object the batch holds.
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
        freeze: Callable[[], None] = gc.freeze,
        unfreeze: Callable[[], None] = gc.unfreeze,
    ) -> None:
        self._young_every = young_every
        self._full_every = full_every
        self._clock = clock
        self._collect = collect
        self._freeze = freeze
        self._unfreeze = unfreeze
        self._last_batch = self._last_full = clock()
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
        self._last_batch = self._last_full = self._clock()

    def hand_back(self) -> None:
        """Automatic collection back on, over everything (nothing stays frozen)."""
        self._unfreeze()
        gc.enable()
        self._active = False

    def after_batch(self) -> None:
        """A batch was stored and acked, its objects are gone: set the survivors aside,
        or collect everything once `full_every` has passed."""
        if not self._active:
            return
        now = self._clock()
        self._last_batch = now
        if now - self._last_full >= self._full_every:
            self._collect_everything(now)
        else:
            self._freeze()

    def tick(self) -> None:
        """Collect when no batch has ended for `young_every` seconds: the young objects,
        or everything once `full_every` has passed. While batches end, they collect."""
        if not self._active:
            return
        now = self._clock()
        if now - self._last_batch < self._young_every:
            return
        if now - self._last_full >= self._full_every:
            self._collect_everything(now)
        else:
            self._collect(1)
        self._last_batch = now  # the next collection here waits as long again

    def _collect_everything(self, now: float) -> None:
        self._unfreeze()
        found = self._collect(2)
        self._last_full = now
        log.debug("full collection found %d unreachable objects", found)
