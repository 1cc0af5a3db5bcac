"""The domain model: what the timeline rules conclude about one consignment's journey
(its timeline, stays, crossings, legs, anomalies and state).

These are plain values: the tracker stores them, the API shows them, the simulator's
ground truth is written in the same shape so tests can compare field by field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from corridor.events import TransitEvent, TransportMode


class ConsignmentState(StrEnum):
    ANNOUNCED = "announced"  # events seen, but no accepted declaration yet
    DECLARED = "declared"
    REJECTED = "rejected"
    IN_TRANSIT = "in_transit"  # between locations
    AT_LOCATION = "at_location"  # inside an open stay at `current_location`
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class StayStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    # The consignment was seen further on, but this location never reported a departure.
    DEPARTURE_MISSING = "departure_missing"


class AnomalyKind(StrEnum):
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    OFF_ROUTE = "off_route"
    DEPARTURE_WITHOUT_ARRIVAL = "departure_without_arrival"
    SEAL_CHANGED = "seal_changed"
    INVALID_TRANSITION = "invalid_transition"
    PERMIT_EXPIRED = "permit_expired"
    # Plausibility (corridor/plausibility.py): what a real journey cannot have done.
    LEG_TOO_FAST = "leg_too_fast"
    NON_POSITIVE_DURATION = "non_positive_duration"
    UNCONNECTED_JUMP = "unconnected_jump"
    OUT_OF_SEQUENCE = "out_of_sequence"
    # An event names another carrier, carnet, MRN, permit or route than the first claim.
    IDENTITY_CONFLICT = "identity_conflict"


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return int((end - start).total_seconds())


@dataclass(frozen=True, slots=True)
class Stay:
    """One visit of a consignment at a location, from arrival to departure."""

    consignment_id: str
    location: str
    visit: int  # 1 for the first visit to this location, 2 for a return, ...
    arrived_at: datetime
    status: StayStatus
    released_at: datetime | None = None
    departed_at: datetime | None = None
    inspection_started_at: datetime | None = None
    inspection_completed_at: datetime | None = None

    @property
    def dwell_seconds(self) -> int | None:
        return _seconds(self.arrived_at, self.departed_at)

    @property
    def arrival_to_release_seconds(self) -> int | None:
        return _seconds(self.arrived_at, self.released_at)

    @property
    def release_to_departure_seconds(self) -> int | None:
        return _seconds(self.released_at, self.departed_at)

    @property
    def inspection_seconds(self) -> int | None:
        return _seconds(self.inspection_started_at, self.inspection_completed_at)


@dataclass(frozen=True, slots=True)
class Crossing:
    """A border crossing: the stays either side of a border pair (CPMM TFI1)."""

    consignment_id: str
    border_id: str
    from_location: str
    to_location: str
    direction: str  # "CN->KZ": from the first side's country to the second's
    arrived_at: datetime  # arrival at the first side's control point
    departed_at: datetime | None  # departure from the second side's; None while crossing

    @property
    def tfi1_seconds(self) -> int | None:
        return _seconds(self.arrived_at, self.departed_at)


@dataclass(frozen=True, slots=True)
class Leg:
    """Travel between two consecutive locations: departure here to arrival there."""

    consignment_id: str
    from_location: str
    to_location: str
    mode: TransportMode
    departed_at: datetime
    arrived_at: datetime
    distance_km: float | None
    # Time stopped at the origin before leaving (its dwell), for CPMM speed with delay.
    origin_dwell_seconds: int | None = None

    @property
    def travel_seconds(self) -> int:
        return int((self.arrived_at - self.departed_at).total_seconds())

    @property
    def speed_without_delay_kmh(self) -> float | None:
        """CPMM SWOD: distance over moving time."""
        if self.distance_km is None or self.travel_seconds <= 0:
            return None
        return self.distance_km / (self.travel_seconds / 3600)

    @property
    def speed_with_delay_kmh(self) -> float | None:
        """CPMM SWD: distance over elapsed time including the stop at the origin."""
        if self.distance_km is None or self.origin_dwell_seconds is None:
            return None
        elapsed = self.travel_seconds + self.origin_dwell_seconds
        return self.distance_km / (elapsed / 3600) if elapsed > 0 else None


@dataclass(frozen=True, slots=True)
class Anomaly:
    consignment_id: str
    kind: AnomalyKind
    event_id: str
    location: str
    occurred_at: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything the rules derive from one consignment's events."""

    consignment_id: str
    carrier_id: str | None  # None: no event has named one yet
    state: ConsignmentState
    current_location: str | None
    last_event_at: datetime
    route_id: str | None
    events: tuple[TransitEvent, ...]
    stays: tuple[Stay, ...]
    crossings: tuple[Crossing, ...]
    legs: tuple[Leg, ...]
    anomalies: tuple[Anomaly, ...] = field(default=())
    # Indices into `legs` and `stays` that a plausibility rule voids: KPIs leave them out.
    implausible_legs: frozenset[int] = frozenset()
    implausible_stays: frozenset[int] = frozenset()
