"""What phase one plans for each consignment: its stays, sailings, permits, identity,
incidents and planned faults, in whole seconds since the epoch; and the moments derived
from a plan that both the events (`emit`) and the ground truth (`truth`) need."""

from __future__ import annotations

from dataclasses import dataclass, field

from corridor.events import BorderDirection, InspectionChannel, TransportMode
from corridor.reference import Route
from simulator.config import JourneyKind

HOUR = 3600
DAY = 86400


@dataclass(slots=True)
class Sailing:
    origin: str
    destination: str
    vessel: str
    voyage: str
    departs: int
    arrives: int
    booked: int = 0


@dataclass(slots=True)
class StayPlan:
    """One scheduled visit: arrival, start of processing, release, departure."""

    location: str
    direction: BorderDirection
    arrived: int
    start: int  # processing starts here, after any capacity queue
    released: int
    departed: int
    service: int  # the drawn service time, start -> release
    channel: InspectionChannel
    inspection: tuple[int, int] | None = None
    boarded: Sailing | None = None  # left this port on that sailing
    landed: Sailing | None = None  # came to this port on that sailing


@dataclass(slots=True)
class Permit:
    permit_id: str
    issuer: str
    issued: int
    expires: int
    entry_stay: int  # index into the path of the ENTRANCE
    exit_stay: int | None  # None when the country is the destination
    revoked: int | None = None  # revoked before any use: never used
    # Revoked this long after its ENTRANCE was used (the e-Permit ledger refuses it).
    revoked_after_entry: int | None = None
    # Expires this long before its ENTRANCE is used.
    lapsed_before_entry: int | None = None

    @property
    def used(self) -> bool:
        return self.revoked is None


@dataclass(frozen=True, slots=True)
class Identity:
    mrn: str
    tir_carnet: str | None
    plates: tuple[str, ...]
    containers: tuple[str, ...]
    seals: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConflictPlan:
    """A conflicting re-send: same event_id, occurred_at moved by `shift` seconds."""

    stay: int | None  # None: the declaration.submitted; else seals.checked at that stay
    shift: int


@dataclass(slots=True)
class Incident:
    """Something on the road between path[leg] and path[leg + 1]."""

    leg: int
    reason: str
    delay: int  # seconds the leg takes longer
    fraction: float  # how far into the leg (undelayed) it happens
    at: int = 0  # set when the leg is travelled
    new_seals: tuple[str, ...] | None = None  # fitted there, when the seal broke


@dataclass(frozen=True, slots=True)
class Split:
    """From stay `first` on, a second truck with `plates` follows `lag` seconds behind."""

    first: int
    lag: int
    plates: tuple[str, ...]


@dataclass(slots=True)
class Journey:
    index: int
    consignment_id: str
    carrier_id: str
    mode: TransportMode
    route: Route  # the declared route
    identity: Identity
    submitted: int
    accepted: int | None  # None: rejected
    permits: list[Permit]
    event_seed: int
    delivery_seed: int
    kind: JourneyKind = JourneyKind.REGULAR
    path: tuple[str, ...] = ()  # the locations travelled: the route, unless it deviates
    rejected: int | None = None
    cancelled: int | None = None
    incident: Incident | None = None
    reseal: tuple[int, tuple[str, ...]] | None = None  # (stay, new seals) at inspection
    split: Split | None = None
    stays: list[StayPlan] = field(default_factory=list)  # only those arrived by window end
    goods_released: int | None = None
    discharged: int | None = None
    dropped_departures: frozenset[int] = frozenset()
    # Stays whose gate arrival a silent source never reported.
    silenced_arrivals: frozenset[int] = frozenset()
    # (location, seconds): that location's gate or port stamps its events this far off.
    skew: tuple[str, int] | None = None
    conflicts: tuple[ConflictPlan, ...] = ()
    invalid_seeds: tuple[tuple[int | None, int], ...] = ()  # (stay or None, seed)

    @property
    def first_moment(self) -> int:
        """No event of this consignment happens, or is delivered, before this."""
        return min([self.submitted, *(p.issued for p in self.permits)])


def seal_check_at(stay: StayPlan) -> int:
    """Seals are checked early in processing, at every country entry and at destination."""
    return stay.start + (stay.released - stay.start) * 15 // 100


def has_seal_check(journey: Journey, index: int) -> bool:
    last = len(journey.path) - 1
    return journey.stays[index].direction is BorderDirection.INBOUND or index == last


def permit_use_at(stay: StayPlan) -> int:
    """A permit's ENTRANCE is recorded early in processing at the entry point."""
    return stay.start + (stay.released - stay.start) * 3 // 100


def reseal_at(stay: StayPlan) -> int:
    """New seals go on once the physical inspection is over."""
    assert stay.inspection is not None
    return stay.inspection[1] + 60


def permit_expiry(journey: Journey, permit: Permit) -> int:
    """When the permit expires: 180 days, or just before its entrance when it lapses."""
    if permit.lapsed_before_entry is None or permit.entry_stay >= len(journey.stays):
        return permit.expires
    entry = permit_use_at(journey.stays[permit.entry_stay])
    return max(permit.issued + 3600, entry - permit.lapsed_before_entry)


def permit_revocation(journey: Journey, permit: Permit) -> int | None:
    if permit.revoked is not None:
        return permit.revoked
    if permit.revoked_after_entry is None or permit.entry_stay >= len(journey.stays):
        return None
    return permit_use_at(journey.stays[permit.entry_stay]) + permit.revoked_after_entry
