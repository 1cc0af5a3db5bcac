"""Faults decided up front, journey by journey, so the ground truth knows them: departures
never reported, conflicting and invalid duplicates, a skewed clock, silenced arrivals."""

from __future__ import annotations

import random

from simulator.config import JourneyKind, SimulationConfig
from simulator.plans import DAY, ConflictPlan, Journey, has_seal_check, seal_check_at

# A conflicting version of a seal check could move it across the change it reports.
_SEALS_OR_PLACES_CHANGE = frozenset(
    {JourneyKind.SEAL_BROKEN, JourneyKind.SEALS_REPLACED, JourneyKind.DEVIATION}
)


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
