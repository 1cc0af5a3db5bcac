"""What the API needs from storage: a read-only interface.

`storage.reads.ReadRepository` implements it against PostgreSQL and
`services.api.memory.InMemoryReads` in memory, for tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from storage.views import (
    AlertView,
    ConsignmentFilter,
    ConsignmentKey,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingPerformance,
    Granularity,
    LegPerformance,
    LocationPerformance,
    LocationQueueView,
    Page,
    Percentiles,
    RollupStatus,
    TimelineView,
)


class ApiReads(Protocol):
    async def consignment_status(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> ConsignmentStatusView | None: ...

    async def timeline(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> TimelineView | None: ...

    async def tracker_clock(self) -> datetime | None:
        """The tracker's event-time clock (the slowest partition's newest event read):
        the instant open stays are judged at."""
        ...

    async def recent_dwell_seconds(
        self, location: str, since: datetime, until: datetime
    ) -> list[int]:
        """Dwell of the location's completed stays that departed in [since, until)."""
        ...

    async def search_consignments(
        self,
        filters: ConsignmentFilter,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]: ...

    async def locations_performance(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LocationPerformance, ...]: ...

    async def location_queues(
        self, carrier_id: str | None = None
    ) -> tuple[LocationQueueView, ...]: ...

    async def crossing_performance(
        self,
        start: datetime,
        end: datetime,
        border_id: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[CrossingPerformance, ...]: ...

    async def leg_performance(
        self,
        start: datetime,
        end: datetime,
        from_location: str | None = None,
        to_location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LegPerformance, ...]: ...

    async def rollup_status(self) -> tuple[RollupStatus, ...]:
        """Each KPI rollup's freshness and failures (``kpi_rollup_status``)."""
        ...

    async def alerts(
        self,
        since: datetime,
        location: str | None = None,
        kind: str | None = None,
        carrier_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> tuple[AlertView, ...]: ...

    async def ping(self, timeout: float = 2.0) -> bool: ...  # noqa: ASYNC109
