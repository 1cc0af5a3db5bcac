"""When a tracker worker's cyclic garbage collector runs: rarely, and never mid-batch.

A batch holds everything it took until it is stored, so a collection during a batch
walks a whole batch of live objects that reference counting frees anyway once the batch
is acked; and what outlives a batch (mostly cached histories, acyclic) would be walked
again by every collection of its generation. So the worker turns automatic collection
off. After each batch it freezes what is left (`gc.freeze`, constant time; frozen
objects are still freed when nothing refers to them). After `full_every` seconds it
unfreezes and collects everything, so the few reference cycles a batch leaves live at
most that long. That walks the whole history cache and stalls the worker for seconds at
its full size, so while full collections find (almost) no garbage the interval doubles,
up to `full_at_most`; one that finds more starts again from `full_every`. A timer
(`tick`) collects the young objects when no batch has ended for `young_every` seconds
(an idle worker, or one waiting out an outage); that must be longer than a batch can
take (the backlog window is up to 60 s). docs/tracker.md (*Garbage collection*) has the
measurements.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

# Unreachable objects a full collection may find and still count as finding none: a
# code path that leaves cycles per call (as a retry loop's state did) leaves far more.
NEGLIGIBLE_GARBAGE = 1_000


class BatchPacedCollection:
    def __init__(
        self,
        young_every: float = 120.0,
        full_every: float = 600.0,
        full_at_most: float = 6 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        collect: Callable[[int], int] = gc.collect,
        freeze: Callable[[], None] = gc.freeze,
        unfreeze: Callable[[], None] = gc.unfreeze,
    ) -> None:
        self._young_every = young_every
        self._full_every = full_every
        self._full_at_most = max(full_at_most, full_every)
        self._full_interval = full_every
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
        if now - self._last_full >= self._full_interval:
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
        if now - self._last_full >= self._full_interval:
            self._collect_everything(now)
        else:
            self._collect(1)
        self._last_batch = now  # the next collection here waits as long again

    def _collect_everything(self, now: float) -> None:
        self._unfreeze()
        started = time.perf_counter()
        found = self._collect(2)
        self._last_full = now
        if found <= NEGLIGIBLE_GARBAGE:
            self._full_interval = min(2 * self._full_interval, self._full_at_most)
        else:
            self._full_interval = self._full_every
        log.info(
            "full collection: %.2f s, %d unreachable objects found; next in %.0f s",
            time.perf_counter() - started,
            found,
            self._full_interval,
        )
