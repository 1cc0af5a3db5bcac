"""How good is the ETA? The rule replayed over a simulated quarter against the true arrivals.

    python -m bench.eta [--seed 11] [--per-day 10] [--quarter-days 90]

Offline, as the system would answer: at every event of every consignment (its instant
`t`), statistics are the stays and legs the tracker had seen end in the 30 days before
`t` (recomputed every `--refresh-hours`, as a rollup would be), the position is the
consignment's latest stay at `t`, and `corridor.eta.estimate_arrival` answers. Its p50 is
compared with the simulator's true arrival at the destination, beside a naive baseline:
departure from the origin plus the route's median origin-departure-to-destination time
over the same 30 days (from `t` while the truck has not left the origin). The quarter is
preceded by 30 days of traffic (the statistics' warm-up) and followed by 60 so that every
consignment asked about has arrived.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import statistics
import sys
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from corridor.eta import (
    ETA_WINDOW,
    CorridorStatistics,
    DurationStats,
    Position,
    duration_stats,
    estimate_arrival,
    route_directions,
)
from corridor.reference import load_reference
from simulator.config import SimulationConfig
from simulator.emit import plan_events
from simulator.journeys import simulate_journeys
from simulator.plans import Journey

HOUR = 3600
DAY = 86400
WARM_UP_DAYS = 30
TAIL_DAYS = 60
BUCKETS: tuple[tuple[str, float, float], ...] = (
    ("0-24 h", 0, 24),
    ("1-3 d", 24, 72),
    ("3-7 d", 72, 168),
    ("> 7 d", 168, float("inf")),
)


@dataclass(frozen=True, slots=True)
class Observation:
    key: tuple[str, ...]
    started: int
    ended: int

    @property
    def seconds(self) -> int:
        return self.ended - self.started


class History:
    """Every stay and leg of the run, to be windowed at `t` as the KPI rollups are: stays
    that arrived, legs that departed, in the 30 days before `t` and had ended by `t`."""

    def __init__(self, journeys: Sequence[Journey]) -> None:
        dwell: list[Observation] = []
        directed: list[Observation] = []
        travel: list[Observation] = []
        transit: list[Observation] = []
        for journey in journeys:
            mode = journey.mode.value
            stays = journey.stays
            for stay in stays:
                dwell.append(Observation((stay.location, mode), stay.arrived, stay.departed))
                key = (stay.location, mode, stay.direction.value)
                directed.append(Observation(key, stay.arrived, stay.departed))
            for before, after in itertools.pairwise(stays):
                travel.append(
                    Observation((before.location, after.location), before.departed, after.arrived)
                )
            if arrived(journey) is not None and stays:
                transit.append(
                    Observation((journey.route.id,), stays[0].departed, stays[-1].arrived)
                )
        self.dwell = sorted(dwell, key=lambda o: o.started)
        self.directed = sorted(directed, key=lambda o: o.started)
        self.travel = sorted(travel, key=lambda o: o.started)
        self.transit = sorted(transit, key=lambda o: o.ended)
        self._starts = {
            id(observations): [o.started for o in observations]
            for observations in (self.dwell, self.directed, self.travel)
        }

    def _started_within(
        self, observations: list[Observation], since: int, until: int
    ) -> dict[tuple[str, ...], list[int]]:
        starts = self._starts[id(observations)]
        grouped: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for o in observations[bisect_left(starts, since) : bisect_left(starts, until)]:
            if o.ended < until:
                grouped[o.key].append(o.seconds)
        return grouped

    def statistics(self, at: int) -> tuple[CorridorStatistics, dict[str, float]]:
        since = at - int(ETA_WINDOW.total_seconds())

        def stats(observations: list[Observation]) -> dict[tuple[str, ...], DurationStats]:
            out: dict[tuple[str, ...], DurationStats] = {}
            for key, values in self._started_within(observations, since, at).items():
                if (figures := duration_stats(values)) is not None:
                    out[key] = figures
            return out

        corridor = CorridorStatistics(
            window_start=_dt(since),
            window_end=_dt(at),
            dwell=stats(self.dwell),  # type: ignore[arg-type]
            travel=stats(self.travel),  # type: ignore[arg-type]
            dwell_by_direction=stats(self.directed),  # type: ignore[arg-type]
        )
        ends = [o.ended for o in self.transit]
        transit: dict[str, list[int]] = defaultdict(list)
        for o in self.transit[bisect_left(ends, since) : bisect_left(ends, at)]:
            transit[o.key[0]].append(o.seconds)
        baseline = {
            route: statistics.median(values)
            for route, values in transit.items()
            if len(values) >= 5
        }
        return corridor, baseline


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def arrived(journey: Journey) -> int | None:
    """The true arrival at the declared destination, or None if it never got there in the
    run (stopped, cancelled, or deviated to another end)."""
    path = journey.path or journey.route.locations
    if len(journey.stays) == len(path) and path[-1] == journey.route.locations[-1]:
        return journey.stays[-1].arrived
    return None


def position_at(journey: Journey, at: int) -> Position | None:
    seen = [stay for stay in journey.stays if stay.arrived <= at]
    if not seen:
        return None
    last = seen[-1]
    departed = _dt(last.departed) if last.departed <= at else None
    return Position(last.location, _dt(last.arrived), departed)


@dataclass(slots=True)
class Errors:
    eta: list[float]
    baseline: list[float]
    before_p50: int = 0
    before_p90: int = 0

    @property
    def count(self) -> int:
        return len(self.eta)


def run(seed: int, per_day: float, quarter_days: int, refresh_hours: float) -> dict[str, Errors]:
    reference = load_reference()
    country_of = {code: loc.country for code, loc in reference.locations_by_code.items()}
    days = WARM_UP_DAYS + quarter_days + TAIL_DAYS
    config = SimulationConfig(seed=seed, consignments=int(per_day * days), days=days)
    journeys = simulate_journeys(config, reference)
    history = History(journeys)
    start = int(config.start.timestamp())
    quarter = (start + WARM_UP_DAYS * DAY, start + (WARM_UP_DAYS + quarter_days) * DAY)
    refresh = int(refresh_hours * HOUR)
    snapshots: dict[int, tuple[CorridorStatistics, dict[str, float]]] = {}
    buckets = {name: Errors([], []) for name, _, _ in BUCKETS}
    asked = answered = 0
    for journey in journeys:
        truth = arrived(journey)
        if truth is None:
            continue
        route = journey.route.locations
        for planned in plan_events(journey, reference):
            at = planned.at
            if not quarter[0] <= at < quarter[1] or at >= truth:
                continue
            asked += 1
            snapshot_at = at - at % refresh
            if snapshot_at not in snapshots:
                snapshots[snapshot_at] = history.statistics(snapshot_at)
            corridor, baseline_median = snapshots[snapshot_at]
            estimate = estimate_arrival(
                route,
                journey.mode.value,
                position_at(journey, at),
                _dt(at),
                corridor,
                directions=route_directions(route, country_of),
            )
            naive = baseline_median.get(journey.route.id)
            if estimate.arrival_p50 is None or estimate.arrival_p90 is None or naive is None:
                continue
            answered += 1
            origin_left = journey.stays[0].departed if journey.stays else None
            leave = origin_left if origin_left is not None and origin_left <= at else at
            naive_at = max(at, leave + naive)
            hours_to_go = (truth - at) / HOUR
            name = next(n for n, low, high in BUCKETS if low <= hours_to_go < high)
            errors = buckets[name]
            errors.eta.append(abs(estimate.arrival_p50.timestamp() - truth) / HOUR)
            errors.baseline.append(abs(naive_at - truth) / HOUR)
            errors.before_p50 += truth <= estimate.arrival_p50.timestamp()
            errors.before_p90 += truth <= estimate.arrival_p90.timestamp()
    print(
        f"consignments: {len(journeys)} over {days} days "
        f"(quarter: days {WARM_UP_DAYS}-{WARM_UP_DAYS + quarter_days})"
    )
    print(f"ETA asked at {asked} events, answered at {answered} ({answered / max(asked, 1):.1%})")
    return buckets


def report(buckets: dict[str, Errors]) -> bool:
    header = (
        "| hours to go | asks | MAE h | median abs h | baseline MAE h | MAE vs baseline "
        "| before p50 | before p90 |"
    )
    print(header)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    met = True
    everything = Errors([], [])
    for name, errors in [*buckets.items(), ("all", everything)]:
        if name != "all":
            everything.eta += errors.eta
            everything.baseline += errors.baseline
            everything.before_p50 += errors.before_p50
            everything.before_p90 += errors.before_p90
        if not errors.count:
            print(f"| {name} | 0 | | | | | | |")
            met = met and name == "all"
            continue
        mae, base = statistics.fmean(errors.eta), statistics.fmean(errors.baseline)
        ratio = 1 - mae / base
        p90_share = errors.before_p90 / errors.count
        print(
            f"| {name} | {errors.count} | {mae:.1f} | {statistics.median(errors.eta):.1f} "
            f"| {base:.1f} "
            f"| {ratio:+.0%} | {errors.before_p50 / errors.count:.0%} | {p90_share:.0%} |"
        )
        met = met and ratio >= 0.3 if name != "all" else met and 0.85 <= p90_share <= 0.95
    print(
        "goal (MAE >= 30 % below the baseline in every bucket, p90 coverage 85-95 %): "
        + ("met" if met else "NOT met")
    )
    return met


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.eta", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--per-day", type=float, default=10.0, help="consignments declared a day")
    parser.add_argument("--quarter-days", type=int, default=90)
    parser.add_argument(
        "--refresh-hours", type=float, default=1.0, help="how often statistics are recomputed"
    )
    args = parser.parse_args()
    began = time.perf_counter()
    buckets = run(args.seed, args.per_day, args.quarter_days, args.refresh_hours)
    met = report(buckets)
    machine = platform.processor() or platform.machine()
    print(
        f"machine: {machine}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}; "
        f"{time.perf_counter() - began:.0f} s"
    )
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
