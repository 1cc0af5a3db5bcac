"""What the dispatcher needs from storage (`storage.queries.webhooks.WebhookStore` on
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol
from uuid import UUID

from corridor.eta import ArrivalEstimate
from corridor.notifications import Notified
from storage.rows import DeliveryRow
from storage.views import DueDelivery, EndpointView


class EtaRecords(Protocol):
    """Each consignment's latest ETA, kept for the dashboards
    (`storage.queries.consignment_eta.ConsignmentEtas`)."""

    async def record(self, consignment_id: str, estimate: ArrivalEstimate | None) -> None:
        """Keeps `estimate` unless a newer one is kept; None: the consignment has none."""
        ...


class WebhookOutbox(Protocol):
    """The webhook outbox: who is subscribed, what each was told, deliveries to claim and settle."""

    async def subscribed_endpoints(self, carrier_id: str) -> tuple[EndpointView, ...]: ...

    async def notified(
        self, endpoint_ids: Iterable[UUID], consignment_id: str
    ) -> dict[UUID, Notified]: ...

    async def enqueue(
        self,
        deliveries: Sequence[DeliveryRow],
        notified: Sequence[tuple[UUID, str, Notified]],
    ) -> int:
        """Stores the deliveries (once per endpoint and dedup key) and what the endpoints
        will know, in one transaction; returns how many deliveries were new.
        """
        ...

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> tuple[DueDelivery, ...]:
        """The oldest pending delivery of each (endpoint, consignment) that is due, leased
        until `lease_until`; none of a paused endpoint.
        """
        ...

    async def delivered(self, seq: int, status: int, now: datetime) -> None: ...

    async def failed(
        self,
        seq: int,
        status: int | None,
        error: str,
        retry_at: datetime | None,
        now: datetime,
    ) -> None:
        """A failed attempt: retried at `retry_at`, or a dead letter when that is None."""
        ...

    async def pending_count(self) -> int: ...
