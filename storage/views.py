"""Typed read views: what read queries return (never raw table rows)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Generic, TypeVar
from uuid import UUID

from corridor.events import TransitEvent
from corridor.model import ConsignmentState, StayStatus
from corridor.notifications import ChangeKind

T = TypeVar("T")


class Granularity(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"


class Percentiles(StrEnum):
    """How KPI medians and p90s are computed."""

    EXACT = "exact"  # nearest rank (percentile_disc) over every value
    SKETCH = "sketch"  # nearest rank of the rollups' merged sketches, within 1 %


class ApiKeyRole(StrEnum):
    PUBLISHER = "publisher"
    CARRIER = "carrier"
    OPERATOR = "operator"
    ADMIN = "admin"


# Where a consignment listing's previous page ended: (last_event_at, consignment_id).
ConsignmentKey = tuple[datetime, str]


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a keyset-paginated listing; the next starts after the last item."""

    items: tuple[T, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class ReferencesView:
    tir_carnet: str | None
    mrn: str | None
    permit_id: str | None
    vehicle_plates: tuple[str, ...]
    container_numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConsignmentView:
    consignment_id: str
    carrier_id: str | None  # None: no message has named one yet; no carrier key sees it
    state: ConsignmentState
    current_location: str | None
    first_event_at: datetime
    last_event_at: datetime
    event_count: int
    route_id: str | None
    declared_route: tuple[str, ...]
    references: ReferencesView
    anomaly_count: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class StayView:
    consignment_id: str
    location: str
    visit: int
    country: str
    mode: str | None
    direction: str | None
    status: StayStatus
    arrived_at: datetime
    released_at: datetime | None
    departed_at: datetime | None
    inspection_started_at: datetime | None
    inspection_completed_at: datetime | None
    dwell_seconds: int | None
    arrival_to_release_seconds: int | None
    release_to_departure_seconds: int | None
    inspection_seconds: int | None
    implausible: bool = False  # voided by a plausibility rule: not in KPIs


@dataclass(frozen=True, slots=True)
class CrossingView:
    consignment_id: str
    border_id: str
    from_location: str
    to_location: str
    direction: str
    mode: str | None
    arrived_at: datetime
    departed_at: datetime | None
    tfi1_seconds: int | None


@dataclass(frozen=True, slots=True)
class LegView:
    consignment_id: str
    from_location: str
    to_location: str
    mode: str
    departed_at: datetime
    arrived_at: datetime
    distance_km: float | None
    travel_seconds: int
    origin_dwell_seconds: int | None
    swod_kmh: float | None
    swd_kmh: float | None
    implausible: bool = False  # voided by a plausibility rule: not in KPIs


@dataclass(frozen=True, slots=True)
class TimelineView:
    consignment: ConsignmentView
    events: tuple[TransitEvent, ...]
    stays: tuple[StayView, ...]
    crossings: tuple[CrossingView, ...]
    legs: tuple[LegView, ...]


@dataclass(frozen=True, slots=True)
class LocationPerformance:
    bucket: datetime
    location: str
    stays_count: int
    completed_count: int
    in_progress_count: int
    dwell_mean_seconds: float | None
    dwell_median_seconds: float | None
    dwell_p90_seconds: float | None
    excluded_count: int = 0  # voided by a plausibility rule: in stays_count only


@dataclass(frozen=True, slots=True)
class CrossingPerformance:
    border_id: str
    direction: str
    completed_count: int
    in_progress_count: int
    tfi1_mean_seconds: float | None
    tfi1_median_seconds: float | None
    tfi1_p90_seconds: float | None


@dataclass(frozen=True, slots=True)
class LegPerformance:
    from_location: str
    to_location: str
    mode: str
    legs_count: int
    travel_median_seconds: float | None
    swod_median_kmh: float | None
    swd_median_kmh: float | None
    excluded_count: int = 0  # voided by a plausibility rule: not in the figures


@dataclass(frozen=True, slots=True)
class RollupStatus:
    """A KPI rollup's freshness: complete as of ``refreshed_at`` (the start of its last
    successful refresh), and how many refreshes or policy runs failed since."""

    rollup: str
    refreshed_at: datetime | None
    attempted_at: datetime | None
    consecutive_failures: int
    last_error: str | None


@dataclass(frozen=True, slots=True)
class AlertView:
    id: int
    kind: str
    consignment_id: str | None
    carrier_id: str | None
    location: str | None
    occurred_at: datetime
    raised_at: datetime
    detail: str
    # Set once a later rewrite of the consignment's timeline no longer supports the alert.
    withdrawn_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApiKeyView:
    id: UUID
    name: str
    role: ApiKeyRole
    key_prefix: str
    allowed_locations: tuple[str, ...] | None
    carrier_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True, slots=True)
class ConsignmentFilter:
    """Search criteria, all optional and combined with AND; references are normalised."""

    tir_carnet: str | None = None
    mrn: str | None = None
    permit_id: str | None = None
    vehicle_plate: str | None = None
    container: str | None = None
    state: ConsignmentState | None = None
    location: str | None = None  # current location
    last_event_before: datetime | None = None  # "stuck": nothing heard since


@dataclass(frozen=True, slots=True)
class ConsignmentStatusView:
    consignment: ConsignmentView
    stays: tuple[StayView, ...]


@dataclass(frozen=True, slots=True)
class LocationQueueView:
    """Open stays at a location right now."""

    location: str
    in_progress_count: int
    oldest_arrived_at: datetime


@dataclass(frozen=True, slots=True)
class EndpointView:
    id: UUID
    carrier_id: str
    url: str
    kinds: tuple[ChangeKind, ...]
    eta_threshold_seconds: int
    description: str
    paused: bool
    created_at: datetime
    updated_at: datetime
    secret: str
    previous_secret: str | None
    previous_secret_until: datetime | None

    def secrets(self, at: datetime) -> tuple[str, ...]:
        """The secrets a delivery is signed with: during a rotation, the old one too."""
        old = self.previous_secret
        if old and self.previous_secret_until is not None and at < self.previous_secret_until:
            return (self.secret, old)
        return (self.secret,)


@dataclass(frozen=True, slots=True)
class DeliveryView:
    seq: int
    id: str
    endpoint_id: UUID
    consignment_id: str
    event_type: str
    body: str
    status: str
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    delivery: DeliveryView
    endpoint: EndpointView
