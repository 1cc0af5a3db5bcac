"""Dwell statistics and CPMM speeds, computed the way the database computes them.

One quantile definition on every path: nearest rank, the value at rank
``max(1, ceil(q * n))`` of the sorted values (PostgreSQL's ``percentile_disc``). The exact
path applies it to the values; rollups apply it to a ``corridor.sketch.Sketch`` of them,
within 1 % of the exact answer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from corridor.journey import Timeline
from corridor.sketch import rank

HOUR = 3600


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``percentile_disc(q)``): None for no values, like NULL."""
    target = rank(q, len(values))
    if not values:
        return None
    return sorted(values)[target - 1]


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)


def p90(values: Sequence[float]) -> float | None:
    return percentile(values, 0.9)


def mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


@dataclass(frozen=True, slots=True)
class DwellStats:
    count: int
    mean: float | None
    median: float | None
    p90: float | None


def dwell_stats(seconds: Sequence[float]) -> DwellStats:
    return DwellStats(len(seconds), mean(seconds), median(seconds), p90(seconds))


def swd_kmh(distance_km: float, elapsed_seconds: float) -> float:
    """CPMM speed with delay: distance over the whole elapsed time."""
    if elapsed_seconds <= 0:
        raise ValueError(f"elapsed time must be positive, got {elapsed_seconds} s")
    return distance_km / (elapsed_seconds / HOUR)


def swod_kmh(distance_km: float, elapsed_seconds: float, stopped_seconds: float) -> float:
    """CPMM speed without delay: distance over the elapsed time less the time stopped."""
    return swd_kmh(distance_km, elapsed_seconds - stopped_seconds)


@dataclass(frozen=True, slots=True)
class TripSpeeds:
    distance_km: float
    elapsed_seconds: int
    stopped_seconds: int
    swd_kmh: float | None
    swod_kmh: float | None


def trip_speeds(timeline: Timeline) -> TripSpeeds:
    """Whole-journey SWD/SWOD over the legs with a known distance.

    Each leg counts its travel and the stop at its origin, so the legs of a continuous
    journey add up to first arrival to last arrival.
    """
    legs = [leg for leg in timeline.legs if leg.distance_km is not None]
    distance = math.fsum(leg.distance_km or 0.0 for leg in legs)
    stopped = sum(leg.origin_dwell_seconds or 0 for leg in legs)
    elapsed = stopped + sum(leg.travel_seconds for leg in legs)
    moving = elapsed - stopped
    return TripSpeeds(
        distance_km=distance,
        elapsed_seconds=elapsed,
        stopped_seconds=stopped,
        swd_kmh=swd_kmh(distance, elapsed) if legs and elapsed > 0 else None,
        swod_kmh=swod_kmh(distance, elapsed, stopped) if legs and moving > 0 else None,
    )
