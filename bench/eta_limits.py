"""What limits the ETA far from arrival: the rule beside recency variants and oracles.

    python -m bench.eta_limits [--seed 11] [--per-day 10] [--quarter-days 90]

The same quarter, asks, statistics and baseline as `bench.eta`, over the consignments that
travel their declared route (each part ahead is then a stop of the route). Every variant
sums the parts ahead as `corridor.eta` does and answers the sum's median; it replaces the
moments of some parts:

- recency: a stay ahead (not under way) from the mean of the same location, mode and
  direction's stays that *ended* in the last days (at least 5 of them), as the running
  system could read them;
- the sailing from the last one seen: the departure from a Caspian port drawn from the
  last sailing before the ask and the simulator's own law of the gaps between sailings
  (uniform 2-5 days), the truck's arrival there from the parts before it: the most a
  sailing schedule inferred from observed departures could give;
- oracles, which read the simulator's truth: the true queue wait at capacity-limited
  crossings (plus the mean service time there), the true wait for the sailing at a
  Caspian port, both, and every stay and leg except the sailing waits.

Only a measurement: none of this is the system's rule (docs/benchmarks.md, "ETA").
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.eta import (
    BUCKETS,
    DAY,
    HOUR,
    TAIL_DAYS,
    WARM_UP_DAYS,
    History,
    Observation,
    arrived,
    position_at,
)
from corridor import eta
from corridor.eta import DurationStats, PartKind, route_directions
from corridor.reference import load_reference
from simulator.calibration import DEFAULT_CALIBRATION
from simulator.config import SimulationConfig
from simulator.emit import plan_events
from simulator.journeys import simulate_journeys
from simulator.plans import Journey

_CAPACITY_LIMITED = frozenset(location for location, _ in DEFAULT_CALIBRATION.capacity_table())
_SAILING_DRAWS = 300


@dataclass(frozen=True, slots=True)
class Part:
    """One part ahead of an ask: what the rule knows of it and what really happened."""

    kind: PartKind
    location: str
    mode: str
    direction: str
    next_location: str | None
    stats: DurationStats
    spent: int
    true_seconds: int
    true_queue_seconds: int
    boards_sailing: bool


@dataclass(frozen=True, slots=True)
class Ask:
    at: int
    truth: int
    parts: tuple[Part, ...]


Moments = eta._Moments  # the rule's own per-part moments; the variants replace some of them
Replace = Callable[[Ask, Part], "Moments | None"]


class Recent:
    """Stays per (location, mode, direction) by the instant they ended."""

    def __init__(self, directed: Sequence[Observation]) -> None:
        self._ended = sorted(directed, key=lambda o: o.ended)
        self._ends = [o.ended for o in self._ended]
        self._cache: dict[tuple[int, float], dict[tuple[str, ...], list[int]]] = {}

    def seconds(self, at: int, days: float, key: tuple[str, ...]) -> list[int]:
        snapshot = at - at % HOUR
        if (snapshot, days) not in self._cache:
            grouped: dict[tuple[str, ...], list[int]] = defaultdict(list)
            since = bisect_left(self._ends, snapshot - int(days * DAY))
            for o in self._ended[since : bisect_left(self._ends, snapshot)]:
                grouped[o.key].append(o.seconds)
            self._cache[(snapshot, days)] = grouped
        return self._cache[(snapshot, days)].get(key, [])


def recent_stays(
    recent: Recent, days: float, weight: float = 1.0, only_capacity: bool = False
) -> Replace:
    def replace(ask: Ask, part: Part) -> Moments | None:
        if part.kind is not PartKind.DWELL or part.spent:
            return None
        if only_capacity and part.location not in _CAPACITY_LIMITED:
            return None
        values = recent.seconds(ask.at, days, (part.location, part.mode, part.direction))
        if len(values) < 5:
            return None
        rule = eta._remaining(part.stats, 0)
        mean = weight * statistics.fmean(values) + (1 - weight) * rule.mean
        return Moments(mean, rule.variance)

    return replace


def true_queue(service: dict[tuple[str, str], float]) -> Replace:
    def replace(ask: Ask, part: Part) -> Moments | None:
        if part.kind is not PartKind.DWELL or part.spent or part.location not in _CAPACITY_LIMITED:
            return None
        rule = eta._remaining(part.stats, 0)
        mean = part.true_queue_seconds + service.get((part.location, part.direction), rule.mean)
        return Moments(mean, 0.3 * rule.variance)

    return replace


def true_sailing_wait(ask: Ask, part: Part) -> Moments | None:
    return Moments(part.true_seconds, 0.0) if part.boards_sailing else None


def true_except_sailing_waits(ask: Ask, part: Part) -> Moments | None:
    return None if part.boards_sailing else Moments(part.true_seconds, 0.0)


def both(*replacements: Replace) -> Replace:
    def replace(ask: Ask, part: Part) -> Moments | None:
        return next((m for r in replacements if (m := r(ask, part)) is not None), None)

    return replace


def predicted_seconds(ask: Ask, replace: Replace | None) -> float:
    """The median of the parts' sum, as the rule answers it, some parts replaced."""
    mean = variance = 0.0
    for part in ask.parts:
        moments = (replace(ask, part) if replace else None) or eta._remaining(
            part.stats, part.spent
        )
        mean += moments.mean
        variance += moments.variance
    return eta._quantiles(mean, variance)[0]


class SailingsSeen:
    """The departure from a Caspian port, from the last sailing before the ask and the
    simulator's law of the gaps between sailings, by Monte Carlo."""

    def __init__(self, journeys: Sequence[Journey], seed: int) -> None:
        departures: dict[tuple[str, str], set[int]] = defaultdict(set)
        for journey in journeys:
            for stay in journey.stays:
                if stay.boarded is not None:
                    departures[(stay.location, stay.boarded.destination)].add(stay.departed)
        self._departures = {key: sorted(times) for key, times in departures.items()}
        self._rng = random.Random(seed)
        plan = DEFAULT_CALIBRATION.sailings
        self._gap = (plan.interval_days_min * DAY, plan.interval_days_max * DAY)
        self._ready_after = (6 + plan.min_lead_hours) * HOUR  # port clearance, then the cut-off

    def predicted_seconds(self, ask: Ask) -> float:
        port = next((i for i, p in enumerate(ask.parts) if p.boards_sailing), None)
        if port is None:
            return predicted_seconds(ask, None)
        part = ask.parts[port]
        times = self._departures.get((part.location, part.next_location or ""), [])
        seen = bisect_left(times, ask.at)
        if not seen:
            return predicted_seconds(ask, None)
        last = times[seen - 1]
        before = [eta._remaining(p.stats, p.spent) for p in ask.parts[:port]]
        mean_before = sum(m.mean for m in before)
        sigma2 = math.log(1 + sum(m.variance for m in before) / mean_before**2) if before else 0.0
        low, high = self._gap
        departures = []
        for _ in range(_SAILING_DRAWS):
            if before:
                reach = math.exp(
                    math.log(mean_before) - sigma2 / 2 + math.sqrt(sigma2) * self._rng.gauss(0, 1)
                )
                ready = ask.at + reach + self._ready_after
            else:
                ready = max(ask.at - part.spent + self._ready_after, ask.at)
            # No sailing between the last one and the ask: its gap is longer than that.
            sailing = last + self._rng.uniform(min(max(low, ask.at - last), high), high)
            while sailing < ready:
                sailing += self._rng.uniform(low, high)
            departures.append(sailing - ask.at)
        mean, variance = statistics.fmean(departures), statistics.pvariance(departures)
        for p in ask.parts[port + 1 :]:
            moments = eta._remaining(p.stats, p.spent)
            mean += moments.mean
            variance += moments.variance
        return eta._quantiles(mean, variance)[0]


@dataclass(slots=True)
class Collected:
    asks: list[Ask]
    baseline_hours: list[float]


def collect(journeys: Sequence[Journey], history: History, quarter: tuple[int, int]) -> Collected:
    """The bench's answered asks of the consignments that travel their declared route."""
    reference = load_reference()
    country_of = {code: loc.country for code, loc in reference.locations_by_code.items()}
    snapshots: dict[int, tuple[eta.CorridorStatistics, dict[str, float]]] = {}
    collected = Collected([], [])
    for journey in journeys:
        truth = arrived(journey)
        route = journey.route.locations
        if truth is None or tuple(journey.path or route) != tuple(route):
            continue
        directions = route_directions(route, country_of)
        for planned in plan_events(journey, reference):
            at = planned.at
            if not quarter[0] <= at < quarter[1] or at >= truth:
                continue
            snapshot_at = at - at % HOUR
            if snapshot_at not in snapshots:
                snapshots[snapshot_at] = history.statistics(snapshot_at)
            corridor, baseline_median = snapshots[snapshot_at]
            naive = baseline_median.get(journey.route.id)
            parts = _parts(journey, directions, corridor, at)
            if parts is None or naive is None:
                continue
            collected.asks.append(Ask(at, truth, parts))
            origin_left = journey.stays[0].departed
            leave = origin_left if origin_left <= at else at
            collected.baseline_hours.append(abs(max(at, leave + naive) - truth) / HOUR)
    return collected


def _parts(
    journey: Journey, directions: Sequence[str], corridor: eta.CorridorStatistics, at: int
) -> tuple[Part, ...] | None:
    route, mode = journey.route.locations, journey.mode.value
    position = position_at(journey, at)
    if position is None:
        return None
    here = len(route) - 1 - list(reversed(route)).index(position.location)
    if here == len(route) - 1:
        return None
    started = position.arrived_at if position.departed_at is None else position.departed_at
    elapsed = max(0, at - int(started.timestamp()))
    parts: list[Part] = []
    for kind, location, to_location, stop in eta._parts_ahead(route, here, position):
        stats = eta._part_stats(
            corridor, mode, kind, location, to_location, directions[stop], eta.MIN_SAMPLES
        )
        if stats is None or stats.count < eta.MIN_SAMPLES:
            return None
        stay = journey.stays[stop]
        if kind is PartKind.DWELL:
            true_seconds = stay.departed - max(stay.arrived, at)
            queue = max(0, stay.start - max(stay.arrived, at))
        else:
            true_seconds = stay.arrived - max(journey.stays[stop - 1].departed, at)
            queue = 0
        parts.append(
            Part(
                kind,
                location,
                mode,
                directions[stop],
                route[stop + 1] if stop + 1 < len(route) else None,
                stats,
                elapsed if not parts else 0,
                true_seconds,
                queue,
                kind is PartKind.DWELL and stay.boarded is not None,
            )
        )
    return tuple(parts)


def mean_service(journeys: Sequence[Journey]) -> dict[tuple[str, str], float]:
    """The run's mean time from the start of processing to departure, per location and
    direction: what a stay lasts once its queue is behind it (an oracle's input)."""
    seconds: dict[tuple[str, str], list[int]] = defaultdict(list)
    for journey in journeys:
        for stay in journey.stays:
            seconds[(stay.location, stay.direction.value)].append(stay.departed - stay.start)
    return {key: statistics.fmean(values) for key, values in seconds.items()}


def report(collected: Collected, variants: dict[str, Callable[[Ask], float]]) -> None:
    bucket_of = [
        next(name for name, low, high in BUCKETS if low <= (ask.truth - ask.at) / HOUR < high)
        for ask in collected.asks
    ]
    names = [name for name, _, _ in BUCKETS]
    baseline = {
        name: statistics.fmean(
            e for e, b in zip(collected.baseline_hours, bucket_of, strict=True) if b == name
        )
        for name in names
    }
    print(f"{len(collected.asks)} asks; MAE h (below the baseline) per hours to go")
    print("| variant | " + " | ".join(names) + " |")
    print("|---|" + "---:|" * len(names))
    print("| baseline | " + " | ".join(f"{baseline[n]:.1f}" for n in names) + " |")
    for label, predict in variants.items():
        errors: dict[str, list[float]] = defaultdict(list)
        for ask, name in zip(collected.asks, bucket_of, strict=True):
            errors[name].append(abs(ask.at + predict(ask) - ask.truth) / HOUR)
        cells = []
        for name in names:
            mae = statistics.fmean(errors[name])
            cells.append(f"{mae:.1f} ({1 - mae / baseline[name]:.0%})")
        print(f"| {label} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eta_limits", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-day", type=float, default=10.0)
    parser.add_argument("--quarter-days", type=int, default=90)
    args = parser.parse_args()
    days = WARM_UP_DAYS + args.quarter_days + TAIL_DAYS
    config = SimulationConfig(seed=args.seed, consignments=int(args.per_day * days), days=days)
    journeys = simulate_journeys(config, load_reference())
    history = History(journeys)
    start = int(config.start.timestamp())
    quarter = (start + WARM_UP_DAYS * DAY, start + (WARM_UP_DAYS + args.quarter_days) * DAY)
    collected = collect(journeys, history, quarter)
    recent = Recent(history.directed)
    queue = true_queue(mean_service(journeys))
    sailings = SailingsSeen(journeys, args.seed)

    def replacing(replace: Replace | None) -> Callable[[Ask], float]:
        return lambda ask: predicted_seconds(ask, replace)

    report(
        collected,
        {
            "the rule (30-day statistics)": replacing(None),
            "stays ahead: ended in the last 3 d": replacing(recent_stays(recent, 3)),
            "stays ahead: ended in the last 7 d": replacing(recent_stays(recent, 7)),
            "capacity-limited crossings: last 3 d": replacing(
                recent_stays(recent, 3, only_capacity=True)
            ),
            "stays ahead: half last 4 d, half 30 d": replacing(recent_stays(recent, 4, 0.5)),
            "sailing from the last one seen": sailings.predicted_seconds,
            "oracle: true queue waits": replacing(queue),
            "oracle: true sailing waits": replacing(true_sailing_wait),
            "oracle: both": replacing(both(true_sailing_wait, queue)),
            "oracle: every part true but sailing waits": replacing(true_except_sailing_waits),
        },
    )


if __name__ == "__main__":
    main()
