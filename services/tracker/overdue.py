"""Periodic scan for overdue stays, measured against the event-time watermark (the
slowest partition's newest event: `storage.queries.tracker.EVENT_CLOCK`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from corridor.alerts import Alert, OverduePolicy, overdue_alerts
from corridor.model import Stay, Timeline


class OverdueSource(Protocol):
    async def watermark(self) -> datetime | None: ...

    async def open_stays(self) -> list[tuple[Stay, str | None]]: ...

    async def recent_p90_by_location(self, now: datetime) -> dict[str, tuple[float, int]]: ...

    async def insert_alerts(self, alerts: Sequence[Alert]) -> list[Alert]: ...


class AlertSink(Protocol):
    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None: ...


class OverdueScanner:
    def __init__(self, source: OverdueSource, sink: AlertSink, policy: OverduePolicy) -> None:
        self._source = source
        self._sink = sink
        self._policy = policy

    async def scan(self) -> int:
        """Raise alerts for stays past their limit; returns how many were new."""
        # Event time, not the wall clock: a replayed month must judge stays by its own
        # clock, and a quiet corridor must not make every open stay look overdue.
        now = await self._source.watermark()
        if now is None:
            return 0
        p90 = await self._source.recent_p90_by_location(now)
        candidates = overdue_alerts(await self._source.open_stays(), now, self._policy, p90)
        new = await self._source.insert_alerts(candidates) if candidates else []
        if new:
            await self._sink.publish([], new)
        return len(new)
