"""The ETA rule: chained parts, conditioned on the part under way, honest when data is thin."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from corridor.eta import (
    MIN_SAMPLES,
    CorridorStatistics,
    DurationStats,
    PartKind,
    Position,
    Unavailable,
    duration_stats,
    estimate_arrival,
    route_directions,
)
from corridor.reference import load_reference
from simulator.config import SimulationConfig
from simulator.journeys import simulate_journeys

T0 = datetime(2026, 3, 10, 6, tzinfo=UTC)
HOUR = 3600.0
ROUTE = ("A", "B", "C", "D")
OUT = ("outbound",) * 4
IN = ("outbound", "inbound", "inbound", "inbound")


def stats(median_hours: float, p90_hours: float, count: int = 50) -> DurationStats:
    return DurationStats(count, median_hours * HOUR, p90_hours * HOUR)


def corridor(
    dwell_hours: float = 10.0,
    travel_hours: float = 5.0,
    count: int = 50,
    **overrides: DurationStats,
) -> CorridorStatistics:
    dwell = {(code, "road"): stats(dwell_hours, 2 * dwell_hours, count) for code in ROUTE}
    travel = {
        (a, b): stats(travel_hours, 1.2 * travel_hours, count) for a, b in itertools.pairwise(ROUTE)
    }
    for key, value in overrides.items():
        dwell[(key, "road")] = value
    return CorridorStatistics(T0 - timedelta(days=30), T0, dwell, travel)


def test_every_stop_ahead_gets_an_arrival_and_they_come_in_order() -> None:
    position = Position("A", T0, None)
    eta = estimate_arrival(ROUTE, "road", position, T0, corridor())
    assert eta.unavailable is None
    assert [stop.location for stop in eta.stops] == ["B", "C", "D"]
    assert eta.arrival_p50 == eta.stops[-1].arrival_p50
    for earlier, later in zip(eta.stops, eta.stops[1:], strict=False):
        assert earlier.arrival_p50 < later.arrival_p50
    for stop in eta.stops:
        assert T0 < stop.arrival_p50 < stop.arrival_p90


def test_the_sum_of_medians_is_near_the_p50_of_a_chain_of_tight_parts() -> None:
    tight = CorridorStatistics(
        T0,
        T0,
        {(code, "road"): stats(10, 10.5) for code in ROUTE},
        {(a, b): stats(5, 5.2) for a, b in itertools.pairwise(ROUTE)},
    )
    eta = estimate_arrival(ROUTE, "road", Position("A", T0, T0), T0, tight)
    # Departed A: three legs and the stays at B and C, about 5+10+5+10+5 hours.
    assert eta.arrival_p50 is not None
    assert abs((eta.arrival_p50 - T0).total_seconds() / HOUR - 35) < 1


def test_a_longer_wait_already_spent_moves_the_arrival_later_but_never_into_the_past() -> None:
    fresh = estimate_arrival(ROUTE, "road", Position("A", T0, None), T0, corridor())
    later = T0 + timedelta(hours=30)
    waited = estimate_arrival(ROUTE, "road", Position("A", T0, None), later, corridor())
    assert fresh.arrival_p50 is not None
    assert waited.arrival_p50 is not None
    assert waited.arrival_p50 > fresh.arrival_p50
    assert waited.stops[0].arrival_p50 > later
    assert waited.basis[0].elapsed_seconds == 30 * 3600


def test_stays_are_taken_in_the_direction_the_truck_goes_where_there_are_enough() -> None:
    # At C, trucks leaving the country stay 40 h and trucks entering it 2 h.
    mixed = corridor()
    directed = CorridorStatistics(
        mixed.window_start,
        mixed.window_end,
        mixed.dwell,
        mixed.travel,
        {("C", "road", "outbound"): stats(40, 80), ("C", "road", "inbound"): stats(2, 3)},
    )
    position = Position("A", T0, T0)
    leaving = estimate_arrival(ROUTE, "road", position, T0, directed, directions=OUT)
    entering = estimate_arrival(ROUTE, "road", position, T0, directed, directions=IN)
    undirected = estimate_arrival(ROUTE, "road", position, T0, directed)
    assert leaving.arrival_p50 is not None
    assert entering.arrival_p50 is not None
    assert leaving.arrival_p50 - entering.arrival_p50 > timedelta(hours=30)
    assert (
        undirected.arrival_p50 == estimate_arrival(ROUTE, "road", position, T0, mixed).arrival_p50
    )


def test_too_few_stays_in_the_trucks_direction_fall_back_to_all_of_the_locations() -> None:
    mixed = corridor()
    thin = CorridorStatistics(
        mixed.window_start,
        mixed.window_end,
        mixed.dwell,
        mixed.travel,
        {("C", "road", "outbound"): stats(40, 80, count=MIN_SAMPLES - 1)},
    )
    position = Position("A", T0, T0)
    eta = estimate_arrival(ROUTE, "road", position, T0, thin, directions=OUT)
    assert eta.arrival_p50 == estimate_arrival(ROUTE, "road", position, T0, mixed).arrival_p50
    assert eta.basis[3].location == "C"
    assert eta.basis[3].samples == 50  # the all-direction stays it rests on


def test_a_route_enters_a_country_where_its_next_stop_lies_in_another() -> None:
    countries = {"A": "CN", "B": "KZ", "C": "KZ", "D": "AZ"}
    assert route_directions(ROUTE, countries) == ("outbound", "inbound", "outbound", "inbound")


def test_too_few_samples_of_any_part_answer_null_naming_it() -> None:
    thin = corridor(C=stats(10, 20, count=MIN_SAMPLES - 1))
    eta = estimate_arrival(ROUTE, "road", Position("A", T0, None), T0, thin)
    assert eta.unavailable is Unavailable.TOO_FEW_SAMPLES
    assert eta.arrival_p50 is None
    assert eta.arrival_p90 is None
    assert eta.stops == ()
    assert eta.reason == f"{MIN_SAMPLES - 1} recent road stays at C (need {MIN_SAMPLES})"
    assert eta.basis[-1].kind is PartKind.DWELL
    assert eta.basis[-1].location == "C"


def test_no_position_arrived_and_off_route_answer_null_with_their_reason() -> None:
    data = corridor()
    assert estimate_arrival(ROUTE, "road", None, T0, data).unavailable is Unavailable.NOT_STARTED
    arrived = estimate_arrival(ROUTE, "road", Position("D", T0, None), T0, data)
    assert arrived.unavailable is Unavailable.ARRIVED
    elsewhere = estimate_arrival(ROUTE, "road", Position("X", T0, None), T0, data)
    assert elsewhere.unavailable is Unavailable.OFF_ROUTE
    assert elsewhere.reason == "X is not on the route to D"


def test_the_basis_counts_every_part_ahead_and_the_window() -> None:
    eta = estimate_arrival(ROUTE, "road", Position("B", T0, None), T0, corridor(count=42))
    kinds = [(part.kind, part.location, part.to_location) for part in eta.basis]
    assert kinds == [
        (PartKind.DWELL, "B", None),
        (PartKind.TRAVEL, "B", "C"),
        (PartKind.DWELL, "C", None),
        (PartKind.TRAVEL, "C", "D"),
    ]
    assert {part.samples for part in eta.basis} == {42}
    assert (eta.window_start, eta.window_end) == (T0 - timedelta(days=30), T0)


def test_p50_and_p90_cover_a_simulated_chain_of_lognormal_parts() -> None:
    """Parts drawn from the very lognormals the statistics describe: the true sums fall
    before p50 about half the time and before p90 about nine times in ten."""
    rng = random.Random(5)
    data = corridor(dwell_hours=10, travel_hours=5)
    eta = estimate_arrival(ROUTE, "road", Position("A", T0, T0), T0, data)
    assert eta.arrival_p50 is not None
    assert eta.arrival_p90 is not None
    z90 = 1.2815515655446004
    draws = []
    for _ in range(4000):
        total = 0.0
        for median, p90 in ((5, 6), (10, 20), (5, 6), (10, 20), (5, 6)):
            total += math.exp(rng.gauss(math.log(median), math.log(p90 / median) / z90))
        draws.append(total * HOUR)
    p50_s = (eta.arrival_p50 - T0).total_seconds()
    p90_s = (eta.arrival_p90 - T0).total_seconds()
    assert 0.45 < sum(d <= p50_s for d in draws) / len(draws) < 0.58
    assert 0.86 < sum(d <= p90_s for d in draws) / len(draws) < 0.94


@given(
    waited=st.floats(min_value=0, max_value=5_000),
    median=st.floats(min_value=0.1, max_value=500),
    spread=st.floats(min_value=1.0, max_value=6.0),
)
def test_any_wait_gives_finite_ordered_instants_after_as_of(
    waited: float, median: float, spread: float
) -> None:
    data = corridor(A=stats(median, median * spread))
    as_of = T0 + timedelta(hours=waited)
    eta = estimate_arrival(ROUTE, "road", Position("A", T0, None), as_of, data)
    assert eta.arrival_p50 is not None
    assert eta.arrival_p90 is not None
    assert as_of < eta.stops[0].arrival_p50 <= eta.stops[0].arrival_p90
    assert eta.arrival_p50 <= eta.arrival_p90


def test_duration_stats_are_the_corridor_percentiles() -> None:
    figures = duration_stats([HOUR * h for h in range(1, 11)])
    assert figures is not None
    assert figures.count == 10
    assert figures.median_seconds <= figures.p90_seconds
    assert duration_stats([]) is None


def test_a_wide_short_part_never_puts_a_later_stop_before_an_earlier_one() -> None:
    # A narrow 40 h leg, then a stay at C that usually takes an hour but sometimes days.
    data = corridor(C=stats(1, 60))
    narrow = {key: stats(40, 41) for key in data.travel}
    eta = estimate_arrival(
        ROUTE,
        "road",
        Position("B", T0, T0),
        T0,
        CorridorStatistics(data.window_start, data.window_end, data.dwell, narrow),
    )
    p50s = [stop.arrival_p50 for stop in eta.stops]
    p90s = [stop.arrival_p90 for stop in eta.stops]
    assert p50s == sorted(p50s)
    assert p90s == sorted(p90s)


def test_route_directions_are_the_directions_the_simulators_gate_events_report() -> None:
    reference = load_reference()
    countries = {code: location.country for code, location in reference.locations_by_code.items()}
    journeys = simulate_journeys(SimulationConfig(seed=5, consignments=200, days=10), reference)
    compared = 0
    for journey in journeys:
        path = journey.path or journey.route.locations
        expected = route_directions(path, countries)
        for index, stay in enumerate(journey.stays):
            assert stay.direction.value == expected[index], (journey.consignment_id, index)
            compared += 1
    assert compared > 500
