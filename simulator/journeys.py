"""Phase one: a discrete-event simulation of every consignment's journey.

Consignments are declared at random moments of the window and travel their route.
At each location they may queue for a capacity slot (a server that accepts `per_day`
consignments a day, FIFO), are processed for a lognormal service time, released,
and leave; at a Caspian port they wait for the next sailing with room. The result is
a schedule per consignment in whole seconds since the epoch; nothing here reads a
clock, and the same seed gives the same schedule.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise

from corridor.events import BorderDirection, InspectionChannel, TransportMode
from corridor.reference import CorridorReference, LocationKind, Route
from simulator import ids
from simulator.calibration import Calibration, Lognormal
from simulator.config import JourneyKind, SimulationConfig

HOUR = 3600
DAY = 86400
_VESSELS = ("Caspian Pioneer", "Mangystau Star", "Kuryk Express", "Alat Trader", "Shirvan")


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


# A conflicting version of a seal check could move it across the change it reports.
_SEALS_OR_PLACES_CHANGE = frozenset(
    {JourneyKind.SEAL_BROKEN, JourneyKind.SEALS_REPLACED, JourneyKind.DEVIATION}
)
_PERMIT_KINDS = frozenset(
    {JourneyKind.PERMIT_REPLACED, JourneyKind.PERMIT_REVOKED, JourneyKind.PERMIT_EXPIRED}
)


def _lognormal(rng: random.Random, law: Lognormal) -> int:
    return max(60, int(rng.lognormvariate(law.mu, law.sigma)))


class _Schedules:
    """Sailings per (port, destination), drawn on demand, booked first come first served."""

    def __init__(self, rng: random.Random, plan_start: int, calibration: Calibration) -> None:
        self._rng = rng
        self._start = plan_start
        self._plan = calibration.sailings
        self._by_route: dict[tuple[str, str], list[Sailing]] = {}
        self._first_open: dict[tuple[str, str], int] = {}

    def _extend(self, route: tuple[str, str], sailings: list[Sailing]) -> None:
        plan, rng = self._plan, self._rng
        if sailings:
            last = sailings[-1].departs
            gap = rng.uniform(plan.interval_days_min, plan.interval_days_max) * DAY
            departs = int(last + gap)
        else:
            departs = self._start + int(rng.uniform(0, plan.interval_days_max) * DAY)
        sea = max(12.0, rng.gauss(plan.sea_hours_mean, plan.sea_hours_sd)) * HOUR
        arrives = departs + int(sea) + _lognormal(rng, plan.anchorage)
        number = len(sailings) + 1
        voyage = f"{route[0][3:6]}-{route[1][3:6]}-{number:04d}"
        vessel = _VESSELS[(number + len(route[0])) % len(_VESSELS)]
        sailings.append(Sailing(route[0], route[1], vessel, voyage, departs, arrives))

    def board(self, origin: str, destination: str, ready: int) -> Sailing:
        key = (origin, destination)
        sailings = self._by_route.setdefault(key, [])
        capacity = self._plan.vessel_capacity
        # READY events come in time order, so sailings before `ready` are gone for good.
        index = self._first_open.get(key, 0)
        while True:
            while index >= len(sailings):
                self._extend(key, sailings)
            sailing = sailings[index]
            if sailing.departs >= ready and (capacity is None or sailing.booked < capacity):
                break
            if sailing.departs < ready:
                self._first_open[key] = index + 1
            index += 1
        sailing.booked += 1
        return sailing


class _Kind(IntEnum):
    ARRIVE = 0
    READY_TO_SAIL = 1


class JourneySimulator:
    def __init__(self, config: SimulationConfig, reference: CorridorReference) -> None:
        self.config = config
        self.reference = reference
        self.calibration = config.calibration
        self.rng = random.Random(config.seed)
        self.start = int(config.start.timestamp())
        self.end = int(config.end.timestamp())
        self.dwell = self.calibration.dwell_table()
        scale = config.effective_capacity_scale()
        self.interval = {
            key: DAY / (per_day * scale)
            for key, per_day in self.calibration.capacity_table().items()
        }
        self.next_free: dict[tuple[str, TransportMode], float] = {}
        self.schedules = _Schedules(
            random.Random(self.rng.getrandbits(64)), self.start, self.calibration
        )
        self.heap: list[tuple[int, int, _Kind, int, int]] = []
        self.seq = 0
        self.journeys: list[Journey] = []
        self._directions: dict[tuple[tuple[str, ...], int], BorderDirection] = {}
        # Outcomes draw from their own stream: a mix of all-regular leaves traffic as it was.
        self.outcomes = random.Random(config.seed ^ 0x0DD_C0_DE)
        self._kinds = config.journeys.shares()
        self._sea_legs: dict[tuple[str, str], bool] = {}

    # -- setting out ------------------------------------------------------------------

    def _routes(self, mode: TransportMode) -> tuple[list[Route], list[float]]:
        routes = [r for r in self.reference.routes if r.mode is mode]
        weights = [self.calibration.route_weights.get(r.id, 1.0) for r in routes]
        return routes, weights

    def _declare(self) -> None:
        cfg, rng = self.config, self.rng
        year = cfg.start.year
        span = self.end - self.start
        moments = sorted(self.start + int(rng.random() * span) for _ in range(cfg.consignments))
        road = self._routes(TransportMode.ROAD)
        rail = self._routes(TransportMode.RAIL)
        lead_lo, lead_hi = self.calibration.declaration_lead_hours
        serial = rng.randrange(1, 5000)
        for index, submitted in enumerate(moments):
            draw = rng.random()
            is_road = draw < cfg.road_share if road[0] and rail[0] else bool(road[0])
            routes, weights = road if is_road else rail
            route = rng.choices(routes, weights)[0]
            carrier = rng.choice(cfg.carriers)
            origin_country = self.reference.location(route.locations[0]).country
            identity = Identity(
                mrn=ids.mrn(rng, year, origin_country),
                tir_carnet=ids.tir_carnet(rng) if is_road else None,
                plates=ids.vehicle_plates(rng, ids.carrier_country(carrier)) if is_road else (),
                containers=()
                if is_road
                else tuple(ids.container_number(rng) for _ in range(rng.choice((1, 2)))),
                seals=ids.seal_numbers(rng, origin_country, rng.choice((1, 2))),
            )
            accepted = submitted + int(rng.uniform(600, 2 * HOUR))
            arrival = submitted + int(rng.uniform(lead_lo, lead_hi) * HOUR)
            kind = self._kind()
            path, kind = self._path(route, kind)
            journey = Journey(
                index=index,
                consignment_id=f"MC-{year}-{index + 1:06d}",
                carrier_id=carrier,
                mode=route.mode,
                route=route,
                identity=identity,
                submitted=submitted,
                accepted=accepted,
                permits=[],
                event_seed=rng.getrandbits(64),
                delivery_seed=rng.getrandbits(64),
                kind=kind,
                path=path,
            )
            if is_road:
                serial = self._permits(journey, rng, serial)
            self.journeys.append(journey)
            if self._settle_outcome(journey, arrival):
                self._push(arrival, _Kind.ARRIVE, index, 0)

    # -- how the journey goes ---------------------------------------------------------

    def _kind(self) -> JourneyKind:
        u = self.outcomes.random()
        for kind, share in self._kinds:
            if u < share:
                return kind
            u -= share
        return JourneyKind.REGULAR

    def _path(self, route: Route, kind: JourneyKind) -> tuple[tuple[str, ...], JourneyKind]:
        """The locations travelled; a kind the route cannot have becomes regular."""
        locations = route.locations
        if kind is JourneyKind.DEVIATION:
            others = [
                r.locations
                for r in self.reference.routes
                if r.mode is route.mode
                and r.id != route.id
                and (r.locations[0], r.locations[-1]) == (locations[0], locations[-1])
            ]
            if others:
                return self.outcomes.choice(others), kind
            return locations, JourneyKind.REGULAR
        if kind is JourneyKind.RETURN:
            # Turned back inside one country over land (documents, a closed road), so the
            # return crosses no border and no sea.
            turns = [
                i
                for i in range(1, len(locations) - 1)
                if self._country(locations[i]) == self._country(locations[i - 1])
                and not self._by_sea(locations[i - 1], locations[i])
            ]
            if turns:
                i = self.outcomes.choice(turns)
                return (*locations[: i + 1], locations[i - 1], *locations[i:]), kind
            return locations, JourneyKind.REGULAR
        return locations, kind

    def _km(self, here: str, there: str) -> float:
        segment = self.reference.segment(here, there)
        return segment.km if segment else 0.0

    def _country(self, code: str) -> str:
        return self.reference.location(code).country

    def _settle_outcome(self, journey: Journey, arrival: int) -> bool:
        """Fix the kind's details; False when the consignment never sets out."""
        draw, kind = self.outcomes, journey.kind
        if kind is JourneyKind.REJECTED:
            journey.rejected, journey.accepted = journey.accepted, None
            return False
        if kind is JourneyKind.CANCELLED:
            assert journey.accepted is not None
            journey.cancelled = int(draw.uniform(journey.accepted + 600, arrival))
            return False
        if kind in (JourneyKind.BREAKDOWN, JourneyKind.ACCIDENT, JourneyKind.SEAL_BROKEN):
            # Long enough to break down on: not a bridge between two border posts.
            land = [
                i
                for i, (here, there) in enumerate(pairwise(journey.path))
                if not self._by_sea(here, there) and self._km(here, there) > 50
            ]
            if not land:
                journey.kind = JourneyKind.REGULAR
                return True
            median = {JourneyKind.ACCIDENT: 30.0}.get(kind, 8.0)
            delay = min(5 * DAY, _lognormal(draw, Lognormal(median_hours=median, p90_ratio=3.0)))
            journey.incident = Incident(
                leg=draw.choice(land),
                reason={JourneyKind.SEAL_BROKEN: "seal broken"}.get(kind, kind.value),
                delay=delay,
                fraction=draw.uniform(0.1, 0.9),
                new_seals=ids.seal_numbers(draw, "XX", len(journey.identity.seals))
                if kind is JourneyKind.SEAL_BROKEN
                else None,
            )
        if kind is JourneyKind.SEALS_REPLACED:
            entries = [
                i
                for i in range(1, len(journey.path))
                if self._direction(journey.path, i) is BorderDirection.INBOUND
            ]
            if not entries:
                journey.kind = JourneyKind.REGULAR
                return True
            stay = draw.choice(entries)
            country = self._country(journey.path[stay])
            journey.reseal = (stay, ids.seal_numbers(draw, country, len(journey.identity.seals)))
        if kind in _PERMIT_KINDS:
            self._permit_outcome(journey)
        if kind is JourneyKind.SPLIT:
            self._split(journey)
        return True

    def _split(self, journey: Journey) -> None:
        """Unloaded from the ferry onto two trucks at the port of arrival (road only: a
        rail consignment's wagons travel as one train)."""
        landings = [
            i + 1
            for i, (here, there) in enumerate(pairwise(journey.path))
            if self._by_sea(here, there)
        ]
        if journey.mode is not TransportMode.ROAD or not landings:
            journey.kind = JourneyKind.REGULAR
            return
        country = ids.carrier_country(journey.carrier_id)
        plates = ids.vehicle_plates(self.outcomes, country)
        journey.split = Split(landings[-1], int(self.outcomes.uniform(60, 300)), plates)

    def _permit_outcome(self, journey: Journey) -> None:
        if not journey.permits:
            journey.kind = JourneyKind.REGULAR
            return
        draw, permit = self.outcomes, journey.permits[0]
        if journey.kind is JourneyKind.PERMIT_REVOKED:
            permit.revoked_after_entry = int(draw.uniform(1, 48) * HOUR)
        elif journey.kind is JourneyKind.PERMIT_EXPIRED:
            permit.lapsed_before_entry = int(draw.uniform(1, 48) * HOUR)
        else:
            permit.revoked = permit.issued + int(draw.uniform(600, HOUR))
            issued = permit.revoked + 600
            journey.permits.insert(
                1,
                Permit(
                    permit_id=permit.permit_id + "1",  # the issuer's next serial
                    issuer=permit.issuer,
                    issued=issued,
                    expires=issued + 180 * DAY,
                    entry_stay=permit.entry_stay,
                    exit_stay=permit.exit_stay,
                ),
            )

    def _permits(self, journey: Journey, rng: random.Random, serial: int) -> int:
        carrier_country = ids.carrier_country(journey.carrier_id)
        if carrier_country is None:
            return serial
        countries = [self.reference.location(code).country for code in journey.path]
        last = len(countries) - 1
        for issuer in dict.fromkeys(countries):
            if issuer == carrier_country or issuer not in self.calibration.permit_countries:
                continue
            entry = countries.index(issuer)
            exit_ = last - countries[::-1].index(issuer)
            issued = journey.submitted - int(rng.uniform(1, 72) * HOUR)
            serial += rng.randrange(1, 40)
            journey.permits.append(
                Permit(
                    permit_id=ids.permit_id(
                        issuer, carrier_country, self.config.start.year, serial
                    ),
                    issuer=issuer,
                    issued=issued,
                    expires=issued + 180 * DAY,
                    entry_stay=entry,
                    exit_stay=None if exit_ == last else exit_,
                )
            )
        return serial

    # -- the event loop ---------------------------------------------------------------

    def _push(self, at: int, kind: _Kind, journey: int, step: int) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (at, self.seq, kind, journey, step))

    def run(self) -> list[Journey]:
        self._declare()
        while self.heap:
            at, _, kind, index, step = heapq.heappop(self.heap)
            journey = self.journeys[index]
            if kind is _Kind.ARRIVE:
                self._arrive(journey, step, at)
            else:
                self._sail(journey, step, at)
        return self.journeys

    def _direction(self, path: tuple[str, ...], step: int) -> BorderDirection:
        key = (path, step)
        if key not in self._directions:
            self._directions[key] = self._derive_direction(path, step)
        return self._directions[key]

    def _derive_direction(self, path: tuple[str, ...], step: int) -> BorderDirection:
        if step == 0:
            return BorderDirection.OUTBOUND
        here, before = (self._country(path[i]) for i in (step, step - 1))
        return BorderDirection.INBOUND if here != before else BorderDirection.OUTBOUND

    def _service(self, location: str, mode: TransportMode, direction: BorderDirection) -> int:
        law = self.dwell.get((location, mode, direction), self.calibration.fallback_dwell)
        return _lognormal(self.rng, law)

    def _channel(self, mode: TransportMode) -> InspectionChannel:
        u = self.rng.random()
        physical = self.calibration.physical_inspection_share[mode]
        if u < physical:
            return InspectionChannel.RED
        if u < physical + self.calibration.documentary_check_share:
            return InspectionChannel.YELLOW
        return InspectionChannel.GREEN

    def _arrive(self, journey: Journey, step: int, at: int) -> None:
        if at > self.end:
            return  # arrives after the window: nothing of it is ever seen
        path, mode, rng = journey.path, journey.mode, self.rng
        location = path[step]
        direction = self._direction(path, step)
        start = at
        key = (location, mode)
        if key in self.interval:
            slot = max(float(at), self.next_free.get(key, float(at)))
            self.next_free[key] = slot + self.interval[key]
            start = math.ceil(slot)
        service = self._service(location, mode, direction)
        released = start + service
        channel = self._channel(mode)
        if journey.reseal is not None and journey.reseal[0] == step:
            channel = InspectionChannel.RED  # the inspection that opens the seals
        inspection = None
        if channel is InspectionChannel.RED:
            begin = start + int(service * rng.uniform(0.25, 0.45))
            inspection = (begin, begin + int(service * rng.uniform(0.2, 0.4)))
        landed = journey.stays[-1].boarded if journey.stays else None
        stay = StayPlan(
            location, direction, at, start, released, released, service, channel, inspection
        )
        stay.landed = landed
        journey.stays.append(stay)
        last = len(path) - 1
        if step < last and self._by_sea(location, path[step + 1]):
            self._push(released, _Kind.READY_TO_SAIL, journey.index, step)
            return
        stay.departed = released + _lognormal(rng, self.calibration.exit[mode])
        if step == last:
            journey.goods_released = released + 60
            journey.discharged = stay.departed + int(rng.uniform(2, 24) * HOUR)
            return
        travel = self._travel(location, path[step + 1], mode)
        incident = journey.incident
        if incident is not None and incident.leg == step:
            incident.at = stay.departed + int(travel * incident.fraction)
            travel += incident.delay
        self._push(stay.departed + travel, _Kind.ARRIVE, journey.index, step + 1)

    def _by_sea(self, here: str, there: str) -> bool:
        if (here, there) not in self._sea_legs:
            self._sea_legs[(here, there)] = self._is_sea_leg(here, there)
        return self._sea_legs[(here, there)]

    def _is_sea_leg(self, here: str, there: str) -> bool:
        segment = self.reference.segment(here, there)
        kind = self.reference.location(here).kind
        return (
            kind is LocationKind.SEA_PORT
            and segment is not None
            and segment.mode is TransportMode.SEA
        )

    def _sail(self, journey: Journey, step: int, ready: int) -> None:
        stay = journey.stays[step]
        destination = journey.path[step + 1]
        lead = int(self.calibration.sailings.min_lead_hours * HOUR)
        sailing = self.schedules.board(stay.location, destination, ready + lead)
        stay.boarded = sailing
        stay.departed = sailing.departs
        self._push(sailing.arrives, _Kind.ARRIVE, journey.index, step + 1)

    def _travel(self, here: str, there: str, mode: TransportMode) -> int:
        segment = self.reference.segment(here, there)
        km = segment.km if segment else 100.0
        cal = self.calibration
        speed = cal.rail_speed_kmh if mode is TransportMode.RAIL else cal.road_speed_kmh
        speed *= self.rng.lognormvariate(0.0, cal.speed_sigma)
        return max(int(cal.min_leg_minutes * 60), int(km / speed * HOUR))


def plan_faults(journeys: list[Journey], config: SimulationConfig) -> None:
    """Decide, up front, the faults the ground truth has to know about."""
    rates = config.faults
    rng = random.Random(config.seed ^ 0x5EED_FA17)
    end = int(config.end.timestamp())
    for journey in journeys:
        dropped = [
            i
            for i, stay in enumerate(journey.stays)
            if stay.departed <= end and rng.random() < rates.missing_departure
        ]
        if journey.kind in (JourneyKind.RETURN, JourneyKind.SPLIT):
            # A return to a visit never closed would fold into it; a second truck's
            # departure would close a visit the first left open: faults and kinds the
            # truth does not combine.
            dropped = []
        journey.dropped_departures = frozenset(dropped)
        journey.skew, journey.silenced_arrivals = _source_faults(journey, config)
        conflicts: list[ConflictPlan] = []
        candidates: list[tuple[int | None, int]] = [(None, journey.submitted)]
        if journey.kind not in _SEALS_OR_PLACES_CHANGE:
            candidates += [
                (i, seal_check_at(stay) + _skew_at(journey, stay.location))
                for i, stay in enumerate(journey.stays)
                if has_seal_check(journey, i)
            ]
        for stay_index, moment in candidates:
            if moment <= end and rng.random() < rates.conflicting_duplicate:
                shift = rng.choice((-1, 1)) * rng.randrange(120, 1200)
                conflicts.append(ConflictPlan(stay_index, shift))
        journey.conflicts = tuple(conflicts)
        invalid: list[tuple[int | None, int]] = []
        for stay_index in [None, *range(len(journey.stays))]:
            if rng.random() < rates.invalid:
                invalid.append((stay_index, rng.getrandbits(64)))
        journey.invalid_seeds = tuple(invalid)


def _skew_at(journey: Journey, location: str) -> int:
    skew = journey.skew
    return skew[1] if skew is not None and skew[0] == location else 0


def _source_faults(
    journey: Journey, config: SimulationConfig
) -> tuple[tuple[str, int] | None, frozenset[int]]:
    rates, path = config.faults, journey.path
    skew = rates.clock_skew
    skewed = (skew.location, skew.seconds) if skew and skew.location in path else None
    silent = rates.silent_arrivals
    if (
        silent is None
        or silent.location not in path
        or journey.kind in (JourneyKind.RETURN, JourneyKind.SPLIT)
    ):
        return skewed, frozenset()
    day = int(config.start.timestamp()) + silent.day * DAY
    return skewed, frozenset(
        i
        for i, stay in enumerate(journey.stays)
        if stay.location == silent.location
        and stay.landed is None  # a vessel arrival is the port's, not the gate's
        and day <= stay.arrived < day + DAY
    )


def simulate_journeys(config: SimulationConfig, reference: CorridorReference) -> list[Journey]:
    journeys = JourneySimulator(config, reference).run()
    plan_faults(journeys, config)
    return journeys
