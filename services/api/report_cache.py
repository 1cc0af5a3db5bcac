"""A small per-process TTL memo of KPI report rows (no cache library in the lock file).

Only reports answered from the daily aggregates are kept: those already lag the base
tables by up to one aggregate refresh, so a few seconds more change little, while
exact reports stay live. A `ttl` of 0 turns it off (the benchmark's cold figures).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

from services.api import schemas

V = TypeVar("V")
T = TypeVar("T")
Dated = tuple[datetime | None, T]  # an answer and when it is complete


class ReportCache(Generic[V]):
    def __init__(
        self, ttl: float, size: int = 256, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    async def get(self, key: Hashable | None, compute: Callable[[], Awaitable[V]]) -> V:
        """The value stored under ``key`` if younger than the TTL, else ``compute()``'s
        (stored unless ``key`` is None)."""
        if self._ttl <= 0 or key is None:
            return await compute()
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self._ttl:
            return entry[1]
        value = await compute()
        self._entries[key] = (now, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)  # the oldest stored
        return value


class KpiReportCaches:
    """The presented items of each KPI report per query, with their as-of. Location items
    are kept as their JSON (`present.location_items_json`)."""

    def __init__(self, ttl: float) -> None:
        self.locations: ReportCache[Dated[bytes]] = ReportCache(ttl)
        self.crossings: ReportCache[Dated[list[schemas.CrossingPerformanceItem]]] = ReportCache(ttl)
        self.legs: ReportCache[Dated[list[schemas.LegPerformanceItem]]] = ReportCache(ttl)
