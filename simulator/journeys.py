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
from enum import IntEnum
from itertools import pairwise

from corridor.events import BorderDirection, InspectionChannel, TransportMode
from corridor.reference import CorridorReference, LocationKind, Route
from simulator import ids
from simulator.calibration import Lognormal, draw_seconds
from simulator.config import JourneyKind, SimulationConfig
from simulator.fault_plan import plan_faults
from simulator.permits import plan_permit_outcome, plan_permits
from simulator.plans import (
    DAY,
    HOUR,
    Identity,
    Incident,
    Journey,
    Split,
    StayPlan,
)
from simulator.sailings import Sailings

_PERMIT_KINDS = frozenset(
    {JourneyKind.PERMIT_REPLACED, JourneyKind.PERMIT_REVOKED, JourneyKind.PERMIT_EXPIRED}
)


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
        self.schedules = Sailings(
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
                consignment_id=f"MC-{year}-{index + self.config.first_serial:06d}",
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
                serial = plan_permits(
                    journey,
                    rng,
                    serial,
                    self.reference,
                    self.calibration.permit_countries,
                    self.config.start.year,
                )
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
            delay = min(5 * DAY, draw_seconds(draw, Lognormal(median_hours=median, p90_ratio=3.0)))
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
            plan_permit_outcome(journey, self.outcomes)
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
        return draw_seconds(self.rng, law)

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
        stay.departed = released + draw_seconds(rng, self.calibration.exit[mode])
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


def simulate_journeys(config: SimulationConfig, reference: CorridorReference) -> list[Journey]:
    journeys = JourneySimulator(config, reference).run()
    plan_faults(journeys, config)
    return journeys
