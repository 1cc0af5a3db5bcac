"""Plausibility screens: times and places that cannot be true of a real journey.

A source with a wrong clock or a mistyped date still sends well-formed events; these
rules catch what the physics of the corridor rules out. Each breach is an anomaly
on the consignment, and the leg or stay it concerns is marked implausible so that KPIs
leave it out (the way CPMM screens its trip samples before averaging). The events stay
on the timeline: they are facts about what was reported, not about what happened.

    leg too fast           travel shorter than distance / the mode's top speed, less a
                           clock tolerance
    non-positive duration  a leg that arrives no later than it departed; a stay that
                           departs the instant it arrived
    unconnected jump       consecutive stays at two locations no segment joins
    out of sequence        an event further than `max_isolation` from every other
                           event of its consignment (a mistyped day, month or year)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from corridor.anomalies import anomaly_at
from corridor.events import ARRIVAL_TYPES, EventType, TransitEvent, TransportMode
from corridor.model import Anomaly, AnomalyKind, Leg, Stay
from corridor.reference import CorridorReference

# Permits are issued weeks or months ahead and revoked whenever: their time says
# nothing about the journey's sequence.
_UNSEQUENCED_TYPES = frozenset(
    {EventType.PERMIT_ISSUED, EventType.PERMIT_REVOKED, EventType.CONSIGNMENT_CANCELLED}
)


@dataclass(frozen=True, slots=True)
class PhysicalLimits:
    """Top average speeds no leg of the mode can beat, and how far apart events may lie.

    Road 90 km/h: the speed limiter of heavy goods vehicles (EU Directive 92/6/EEC),
    twice CPMM's road SWOD of 42 km/h. Rail 120 km/h: above the top speed of freight
    trains on the 1520 mm network. Sea 40 km/h (21.6 kn): Caspian ro-ro ferries sail at
    about 14-16 kn. The tolerance absorbs two sources' clocks disagreeing by minutes.
    """

    top_speed_kmh: dict[TransportMode, float] = field(
        default_factory=lambda: {
            TransportMode.ROAD: 90.0,
            TransportMode.RAIL: 120.0,
            TransportMode.SEA: 40.0,
        }
    )
    clock_tolerance: timedelta = timedelta(minutes=15)
    # Longer than any real wait between two events of one journey (multi-day border
    # queues, a missed sailing, a gauge change): a gap beyond it is a wrong date.
    max_isolation: timedelta = timedelta(days=30)

    def fastest_travel(self, leg: Leg) -> timedelta | None:
        """The shortest believable travel time of the leg; None without a distance."""
        if leg.distance_km is None:
            return None
        hours = leg.distance_km / self.top_speed_kmh[leg.mode]
        return timedelta(hours=hours) - self.clock_tolerance


DEFAULT_LIMITS = PhysicalLimits()


@dataclass(frozen=True, slots=True)
class Screening:
    """What the plausibility rules concluded: anomalies and the indices they void."""

    anomalies: tuple[Anomaly, ...] = ()
    implausible_legs: frozenset[int] = frozenset()  # indices into Timeline.legs
    implausible_stays: frozenset[int] = frozenset()  # indices into Timeline.stays


def screen(
    ordered: Sequence[TransitEvent],
    stays: Sequence[Stay],
    legs: Sequence[Leg],
    reference: CorridorReference,
    limits: PhysicalLimits = DEFAULT_LIMITS,
) -> Screening:
    """Run every plausibility rule over one consignment's timeline parts."""
    arrivals = _arrival_events(ordered)
    anomalies: list[Anomaly] = []
    bad_legs: set[int] = set()
    bad_stays: set[int] = set()
    for index, leg in enumerate(legs):
        arrival = arrivals.get((leg.to_location, leg.arrived_at))
        detail = leg_breach(leg, limits)
        if detail is not None and arrival is not None:
            kind, text = detail
            anomalies.append(anomaly_at(arrival, kind, text))
            bad_legs.add(index)
    for index, stay in enumerate(stays):
        if stay.dwell_seconds == 0:
            arrival = arrivals.get((stay.location, stay.arrived_at))
            if arrival is not None:
                text = f"departed {stay.location} the instant it arrived"
                anomalies.append(anomaly_at(arrival, AnomalyKind.NON_POSITIVE_DURATION, text))
            bad_stays.add(index)
    anomalies += unconnected_jumps(stays, arrivals, reference)
    isolated = out_of_sequence(ordered, limits.max_isolation)
    anomalies += isolated
    bad_stays |= _stays_touching(stays, isolated)
    bad_legs |= {i for i, leg in enumerate(legs) if _leg_touches(leg, stays, bad_stays, isolated)}
    return Screening(tuple(anomalies), frozenset(bad_legs), frozenset(bad_stays))


def leg_breach(leg: Leg, limits: PhysicalLimits = DEFAULT_LIMITS) -> tuple[AnomalyKind, str] | None:
    """Why the leg cannot be true, or None if it can."""
    where = f"{leg.from_location} -> {leg.to_location}"
    if leg.travel_seconds <= 0:
        hours = leg.travel_seconds / 3600
        return AnomalyKind.NON_POSITIVE_DURATION, f"{where} took {hours:.1f} h"
    fastest = limits.fastest_travel(leg)
    if fastest is not None and leg.travel_seconds < fastest.total_seconds():
        top = limits.top_speed_kmh[leg.mode]
        speed = leg.speed_without_delay_kmh or 0.0
        return AnomalyKind.LEG_TOO_FAST, (
            f"{where} ({leg.distance_km:.0f} km by {leg.mode.value}) in "
            f"{leg.travel_seconds / 3600:.1f} h: {speed:.0f} km/h, over the {top:.0f} km/h limit"
        )
    return None


def unconnected_jumps(
    stays: Sequence[Stay],
    arrivals: dict[tuple[str, datetime], TransitEvent],
    reference: CorridorReference,
) -> list[Anomaly]:
    """Consecutive stays at locations that no segment joins: a stop went unreported, or a
    location code is wrong."""
    anomalies: list[Anomaly] = []
    for origin, destination in pairwise(stays):
        here, there = origin.location, destination.location
        if here == there or reference.segment(here, there) is not None:
            continue
        arrival = arrivals.get((there, destination.arrived_at))
        if arrival is not None:
            detail = f"{here} -> {there}: no segment joins them"
            anomalies.append(anomaly_at(arrival, AnomalyKind.UNCONNECTED_JUMP, detail))
    return anomalies


def out_of_sequence(ordered: Sequence[TransitEvent], max_isolation: timedelta) -> list[Anomaly]:
    """Events further than `max_isolation` from both their neighbours in time.

    Needs three sequenced events at least: with two far apart, neither is the odd one.
    """
    sequenced = [e for e in ordered if e.event_type not in _UNSEQUENCED_TYPES]
    if len(sequenced) < 3:
        return []
    # The gap to each next event, computed once: an event is isolated when the gaps on
    # both sides of it (one, at either end) exceed `max_isolation`; usually none does.
    gaps = [abs(later.occurred_at - earlier.occurred_at) for earlier, later in pairwise(sequenced)]
    if max(gaps) <= max_isolation:
        return []
    anomalies: list[Anomaly] = []
    for index, event in enumerate(sequenced):
        nearest = min(gaps[max(index - 1, 0) : index + 1])
        if nearest > max_isolation:
            detail = (
                f"{event.event_type.value} is {nearest.total_seconds() / 86400:.0f} days from "
                "the consignment's nearest other event"
            )
            anomalies.append(anomaly_at(event, AnomalyKind.OUT_OF_SEQUENCE, detail))
    return anomalies


def _arrival_events(ordered: Sequence[TransitEvent]) -> dict[tuple[str, datetime], TransitEvent]:
    """The event that opened each stay, by (location, time); the first one wins, as in
    `derive_stays`."""
    found: dict[tuple[str, datetime], TransitEvent] = {}
    for event in ordered:
        if event.event_type in ARRIVAL_TYPES:
            found.setdefault((event.location, event.occurred_at), event)
    return found


def _stays_touching(stays: Sequence[Stay], isolated: Sequence[Anomaly]) -> set[int]:
    moments = {(a.location, a.occurred_at) for a in isolated}
    return {
        i
        for i, stay in enumerate(stays)
        if any(
            (stay.location, moment) in moments
            for moment in (stay.arrived_at, stay.released_at, stay.departed_at)
            if moment is not None
        )
    }


def _leg_touches(
    leg: Leg, stays: Sequence[Stay], bad_stays: set[int], isolated: Sequence[Anomaly]
) -> bool:
    """A leg that starts or ends at a stay holding an out-of-sequence time is void too."""
    if not isolated:
        return False
    ends = {(leg.from_location, leg.departed_at), (leg.to_location, leg.arrived_at)}
    return any(
        (stays[i].location, moment) in ends
        for i in bad_stays
        for moment in (stays[i].arrived_at, stays[i].departed_at)
        if moment is not None
    )
