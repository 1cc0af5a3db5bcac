"""What the API needs from storage: the reads (`ApiReads`) and carriers' webhook
endpoints (`WebhookEndpoints`).

On PostgreSQL, `storage.queries.api.ApiQueries` implements `ApiReads` and
`storage.queries.webhooks.WebhookStore` `WebhookEndpoints`; `services.api.in_memory.
InMemoryReads` implements `ApiReads` in memory, for tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from corridor.notifications import ChangeKind
from storage.views import (
    AlertView,
    ConsignmentFilter,
    ConsignmentKey,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingPerformance,
    DeliveryView,
    EndpointView,
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
        is_open: bool | None = None,
    ) -> tuple[AlertView, ...]: ...

    async def ping(self, timeout: float = 2.0) -> bool: ...  # noqa: ASYNC109


class WebhookEndpoints(Protocol):
    """A carrier's webhook endpoints and their dead letters, always under its carrier id."""

    async def create_endpoint(
        self,
        carrier_id: str,
        endpoint_id: UUID,
        url: str,
        kinds: Sequence[ChangeKind],
        eta_threshold_seconds: int,
        description: str,
        secret: str,
    ) -> EndpointView: ...

    async def endpoints(self, carrier_id: str) -> tuple[EndpointView, ...]: ...

    async def endpoint(self, carrier_id: str, endpoint_id: UUID) -> EndpointView | None: ...

    async def update_endpoint(
        self, carrier_id: str, endpoint_id: UUID, changes: dict[str, Any]
    ) -> EndpointView | None:
        """Sets the given columns (url, kinds, eta_threshold_seconds, description, paused,
        secret, previous_secret, previous_secret_until).
        """
        ...

    async def delete_endpoint(self, carrier_id: str, endpoint_id: UUID) -> bool: ...

    async def dead_letters(
        self, carrier_id: str, endpoint_id: UUID, after_seq: int, limit: int
    ) -> tuple[DeliveryView, ...]: ...

    async def replay(
        self, carrier_id: str, endpoint_id: UUID, delivery_id: str | None, now: datetime
    ) -> int:
        """Puts one dead delivery (or all of the endpoint's, with None) back in the queue,
        with fresh attempts; returns how many. It keeps its place: its sequence number.
        """
        ...
