"""When will it get there? Expected arrival at the destination, from recent corridor statistics.

The journey still ahead is a chain of parts: what is left of the current stay (or of the
leg under way), then for every remaining stop the travel to it and, except at the
destination, the stay there. Each part's duration is taken as lognormal, fitted to the
median and p90 of the recent completed stays at that location (per mode) or legs on
that segment, with their exact mean where known (a fitted mean ran early on skewed
stays: `bench.eta`); the part under way is conditioned on the time it has already taken, as
`corridor.clearance` does for a wait. Parts are independent, so their means and
variances add up, and the sum is again fitted with a lognormal of the same mean and
variance (Fenton-Wilkinson): its median and p90, counted from `as_of`, are the p50 and
p90 arrival instants, at the destination and at each remaining stop.

Ferry waiting needs no rule of its own: a port stay ends with the sailing the truck
boarded, so the dwell at Aktau or Kuryk is the wait for a ferry, and the Caspian leg is
sailing plus anchorage at Alat. Time-of-week effects are not modelled: with sailings
every two to five days and no weekly pattern in the border statistics, a per-weekday
split would only thin each sample.

A stay is taken from the recent stays at its location in the same direction (entering the
country or leaving it: Red Bridge keeps an eastbound truck for a day and a half and lets a
westbound one in after about an hour) when there are `min_samples` of them, else from all the
location's stays of the mode.

The trucks still at a location are not counted: scaling its stays by how long they have
waited (against the median stay, or against the age a steady queue gives) stretched
steady queues on sampling noise and on trucks stuck there, and made the ETA worse at
every horizon on the simulator (docs/benchmarks.md, "ETA"). Nor do the last few days'
stays replace the 30 days': they made it worse too; far from arrival the error is mostly
which Caspian sailing a truck will catch (`bench.eta_limits`).

No estimate without enough data: each part needs `min_samples` recent observations, and
the answer names the first part that lacks them.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import NormalDist

from corridor.events import BorderDirection
from corridor.sketch import Sketch

ETA_WINDOW = timedelta(days=30)
"""Stays and legs that ended this long before the estimate's instant count as recent."""
MIN_SAMPLES = 10
"""Fewer recent observations of any part ahead give no estimate."""
_Z90 = NormalDist().inv_cdf(0.9)
_MIN_SIGMA = 0.01  # a part whose p90 equals its median is still not exactly known


@dataclass(frozen=True, slots=True)
class DurationStats:
    """Recent durations of one part: a location's stays or a segment's legs, in seconds."""

    count: int
    median_seconds: float
    p90_seconds: float
    mean_seconds: float | None = None
    """Their exact mean, when known; else the fitted lognormal's."""


@dataclass(frozen=True, slots=True)
class CorridorStatistics:
    """What the estimate is built from: recent stays per (location, mode) and legs per
    (from, to), over [window_start, window_end). A segment has one mode (the Caspian
    ferry carries road and rail alike), so legs are not split by the consignment's."""

    window_start: datetime
    window_end: datetime
    dwell: Mapping[tuple[str, str], DurationStats]
    travel: Mapping[tuple[str, str], DurationStats]
    dwell_by_direction: Mapping[tuple[str, str, str], DurationStats] = field(default_factory=dict)
    """The same stays as `dwell`, per (location, mode, direction) where they say it."""


@dataclass(frozen=True, slots=True)
class Position:
    """The consignment's latest stay: at `location` since `arrived_at`, left at `departed_at`
    (None while it is still there)."""

    location: str
    arrived_at: datetime
    departed_at: datetime | None


def route_directions(route: Sequence[str], country_of: Mapping[str, str]) -> tuple[str, ...]:
    """The direction of the stay at each stop of `route`, as gate events report it: inbound
    where the route enters another country, outbound otherwise (the origin included)."""
    directions = [BorderDirection.OUTBOUND.value]
    for before, here in itertools.pairwise(route):
        entering = country_of.get(here) != country_of.get(before)
        directions.append((BorderDirection.INBOUND if entering else BorderDirection.OUTBOUND).value)
    return tuple(directions[: len(route)])


class PartKind(StrEnum):
    DWELL = "dwell"
    TRAVEL = "travel"


@dataclass(frozen=True, slots=True)
class PartBasis:
    """One part of the journey ahead and how many recent observations it rests on."""

    kind: PartKind
    location: str  # where the stay is, or where the leg starts
    to_location: str | None  # where the leg ends; None for a stay
    samples: int
    elapsed_seconds: int  # already spent in it (the part under way), else 0


@dataclass(frozen=True, slots=True)
class StopEstimate:
    location: str
    arrival_p50: datetime
    arrival_p90: datetime


class Unavailable(StrEnum):
    NOT_STARTED = "not_started"
    ARRIVED = "arrived"
    OFF_ROUTE = "off_route"
    TOO_FEW_SAMPLES = "too_few_samples"


@dataclass(frozen=True, slots=True)
class ArrivalEstimate:
    destination: str
    as_of: datetime
    window_start: datetime
    window_end: datetime
    arrival_p50: datetime | None
    arrival_p90: datetime | None
    stops: tuple[StopEstimate, ...]
    """Every stop still ahead, the destination last; empty without an estimate."""
    basis: tuple[PartBasis, ...]
    unavailable: Unavailable | None
    reason: str | None
    """Why there is no estimate, in words; None when there is one."""


@dataclass(frozen=True, slots=True)
class _Moments:
    mean: float
    variance: float


def _lognormal(stats: DurationStats) -> tuple[float, float]:
    median = max(stats.median_seconds, 1.0)
    sigma = max(math.log(max(stats.p90_seconds, median) / median) / _Z90, _MIN_SIGMA)
    return math.log(median), sigma


def _upper_tail(z: float) -> float:
    return 0.5 * math.erfc(z / math.sqrt(2))


def _remaining(stats: DurationStats, elapsed: float) -> _Moments:
    """Mean and variance of what is left of a lognormal part that has lasted `elapsed`."""
    mu, sigma = _lognormal(stats)
    if elapsed <= 0:
        mean = stats.mean_seconds or math.exp(mu + sigma**2 / 2)
        return _Moments(mean, (math.exp(sigma**2) - 1) * mean**2)
    b = (math.log(elapsed) - mu) / sigma
    survival = _upper_tail(b)
    if survival < 1e-12:
        # Far beyond anything seen: the lognormal's mean residual life, w·σ²/(ln w − μ).
        rest = elapsed * sigma**2 / max(math.log(elapsed) - mu, sigma**2)
        return _Moments(rest, rest**2)
    first = math.exp(mu + sigma**2 / 2) * _upper_tail(b - sigma) / survival
    second = math.exp(2 * mu + 2 * sigma**2) * _upper_tail(b - 2 * sigma) / survival
    return _Moments(max(first - elapsed, 0.0), max(second - first**2, 0.0))


def _quantiles(mean: float, variance: float) -> tuple[float, float]:
    """Median and p90 of the lognormal with this mean and variance (seconds)."""
    if mean <= 0:
        return 0.0, 0.0
    sigma2 = math.log(1 + variance / mean**2)
    mu = math.log(mean) - sigma2 / 2
    return math.exp(mu), math.exp(mu + _Z90 * math.sqrt(sigma2))


def _parts_ahead(
    route: Sequence[str], here: int, position: Position
) -> list[tuple[PartKind, str, str | None, int]]:
    """(kind, location, to_location, index of the stop reached after it) for every part."""
    parts: list[tuple[PartKind, str, str | None, int]] = []
    if position.departed_at is None:
        parts.append((PartKind.DWELL, route[here], None, here))
    for index in range(here + 1, len(route)):
        parts.append((PartKind.TRAVEL, route[index - 1], route[index], index))
        if index < len(route) - 1:
            parts.append((PartKind.DWELL, route[index], None, index))
    return parts


def estimate_arrival(
    route: Sequence[str],
    mode: str,
    position: Position | None,
    as_of: datetime,
    statistics: CorridorStatistics,
    min_samples: int = MIN_SAMPLES,
    directions: Sequence[str] = (),
) -> ArrivalEstimate:
    """The expected arrival at `route[-1]` of a consignment of `mode` last seen at
    `position`, judged at `as_of`, from `statistics`; `directions` (`route_directions`),
    when given, picks each stay's statistics by direction."""
    destination = route[-1]

    def unavailable(
        kind: Unavailable, reason: str, basis: tuple[PartBasis, ...] = ()
    ) -> ArrivalEstimate:
        window = (statistics.window_start, statistics.window_end)
        return ArrivalEstimate(destination, as_of, *window, None, None, (), basis, kind, reason)

    if position is None:
        return unavailable(Unavailable.NOT_STARTED, "no arrival at a corridor location yet")
    if position.location not in route:
        return unavailable(
            Unavailable.OFF_ROUTE, f"{position.location} is not on the route to {destination}"
        )
    here = len(route) - 1 - list(reversed(route)).index(position.location)
    if here == len(route) - 1:
        return unavailable(Unavailable.ARRIVED, f"arrived at {destination}")
    started = position.arrived_at if position.departed_at is None else position.departed_at
    elapsed = max(0, int((as_of - started).total_seconds()))
    basis: list[PartBasis] = []
    moments: list[tuple[int, _Moments]] = []
    for kind, location, to_location, stop in _parts_ahead(route, here, position):
        direction = directions[stop] if stop < len(directions) else None
        stats = _part_stats(statistics, mode, kind, location, to_location, direction, min_samples)
        spent = elapsed if not basis else 0
        count = stats.count if stats else 0
        basis.append(PartBasis(kind, location, to_location, count, spent))
        if stats is None or count < min_samples:
            reason = _too_few(basis[-1], mode, min_samples)
            return unavailable(Unavailable.TOO_FEW_SAMPLES, reason, tuple(basis))
        moments.append((stop, _remaining(stats, spent)))
    stops = _stops(route, as_of, basis, moments)
    final = stops[-1]
    return ArrivalEstimate(
        destination,
        as_of,
        statistics.window_start,
        statistics.window_end,
        final.arrival_p50,
        final.arrival_p90,
        tuple(stops),
        tuple(basis),
        None,
        None,
    )


def _too_few(part: PartBasis, mode: str, min_samples: int) -> str:
    what = (
        f"{mode} stays at {part.location}"
        if part.kind is PartKind.DWELL
        else f"legs {part.location} -> {part.to_location}"
    )
    return f"{part.samples} recent {what} (need {min_samples})"


def _part_stats(
    statistics: CorridorStatistics,
    mode: str,
    kind: PartKind,
    location: str,
    to_location: str | None,
    direction: str | None,
    min_samples: int,
) -> DurationStats | None:
    """The recent durations of one part ahead: a stay or a leg."""
    if kind is PartKind.DWELL:
        directed = statistics.dwell_by_direction.get((location, mode, direction or ""))
        if directed is not None and directed.count >= min_samples:
            return directed
        return statistics.dwell.get((location, mode))
    return statistics.travel.get((location, to_location or ""))


def _stops(
    route: Sequence[str],
    as_of: datetime,
    basis: Sequence[PartBasis],
    moments: Sequence[tuple[int, _Moments]],
) -> list[StopEstimate]:
    """The arrival at each stop ahead: the parts up to it summed."""
    stops: list[StopEstimate] = []
    mean = variance = 0.0
    for part_basis, (stop, part) in zip(basis, moments, strict=True):
        mean += part.mean
        variance += part.variance
        if part_basis.kind is PartKind.TRAVEL:  # a leg ends with the arrival at its stop
            p50, p90 = _quantiles(mean, variance)
            arrival_p50 = as_of + timedelta(seconds=round(p50))
            arrival_p90 = as_of + timedelta(seconds=round(p90))
            if stops:
                # A part with a wide spread and a short mean (a ferry that may leave
                # today or in four days) can lower the fitted median of the sum; no stop
                # is reached before the one ahead of it.
                arrival_p50 = max(arrival_p50, stops[-1].arrival_p50)
                arrival_p90 = max(arrival_p90, stops[-1].arrival_p90)
            stops.append(StopEstimate(route[stop], arrival_p50, arrival_p90))
    return stops


def sketch_stats(sketch: Sketch) -> DurationStats | None:
    """The statistics of one part from the sketch of its recent durations (the KPI
    rollups' form; None for none)."""
    middle, high = sketch.quantile(0.5), sketch.quantile(0.9)
    if middle is None or high is None:
        return None
    return DurationStats(sketch.count, middle, high, sketch.mean)


def duration_stats(seconds: Sequence[float]) -> DurationStats | None:
    """The same from the durations themselves: the figures the rollups would give."""
    return sketch_stats(Sketch.of(seconds))
