"""Dwell statistics and CPMM speeds, computed the way the database computes them.

`percentile` follows PostgreSQL's `percentile_cont` (linear interpolation between the
two nearest ranks), so figures computed here and in SQL agree to the last digit.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from corridor.journey import Timeline

HOUR = 3600

# Dwell histogram bucket lower edges, in seconds: bucket i holds [edge i, edge i+1), the
# last one everything from 14 days up. Fine where clearance takes minutes, coarse where
# queues take days (CPMM means run from 2 to 77 hours). The TimescaleDB continuous
# aggregates store counts per bucket and must use these same edges.
DWELL_BUCKET_EDGES_SECONDS: tuple[int, ...] = (
    0,
    15 * 60,
    30 * 60,
    1 * HOUR,
    2 * HOUR,
    4 * HOUR,
    6 * HOUR,
    8 * HOUR,
    12 * HOUR,
    18 * HOUR,
    24 * HOUR,
    36 * HOUR,
    48 * HOUR,
    72 * HOUR,
    96 * HOUR,
    120 * HOUR,
    168 * HOUR,
    240 * HOUR,
    336 * HOUR,
)


def percentile(values: Sequence[float], q: float) -> float | None:
    """`percentile_cont(q)`: None for no values, like SQL's NULL."""
    if not 0 <= q <= 1:
        raise ValueError(f"percentile fraction must be within [0, 1], got {q}")
    if not values:
        return None
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    below, above = math.floor(position), math.ceil(position)
    fraction = position - below
    return ordered[below] + (ordered[above] - ordered[below]) * fraction


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


def histogram(values: Sequence[float]) -> tuple[int, ...]:
    """Counts per bucket of `DWELL_BUCKET_EDGES_SECONDS`."""
    counts = [0] * len(DWELL_BUCKET_EDGES_SECONDS)
    for value in values:
        if value < 0:
            raise ValueError(f"a dwell time cannot be negative, got {value}")
        counts[bisect_right(DWELL_BUCKET_EDGES_SECONDS, value) - 1] += 1
    return tuple(counts)


def percentile_from_histogram(counts: Sequence[int], q: float) -> float | None:
    """Approximate percentile from bucket counts, interpolating within the bucket.

    The q-th item of N is taken at rank q*N and assumed spread evenly over its bucket,
    as Prometheus' `histogram_quantile` does; in the open last bucket the answer is its
    lower edge, the only bound known.
    """
    if len(counts) != len(DWELL_BUCKET_EDGES_SECONDS):
        raise ValueError(f"expected {len(DWELL_BUCKET_EDGES_SECONDS)} bucket counts")
    if not 0 <= q <= 1:
        raise ValueError(f"percentile fraction must be within [0, 1], got {q}")
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    below = 0
    for index, count in enumerate(counts):
        if count and below + count >= rank:
            return _within_bucket(index, (rank - below) / count)
        below += count
    raise AssertionError("unreachable: the ranks are covered by the counts")


def _within_bucket(index: int, fraction: float) -> float:
    lower = DWELL_BUCKET_EDGES_SECONDS[index]
    if index + 1 == len(DWELL_BUCKET_EDGES_SECONDS):
        return float(lower)
    upper = DWELL_BUCKET_EDGES_SECONDS[index + 1]
    return lower + (upper - lower) * fraction


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
