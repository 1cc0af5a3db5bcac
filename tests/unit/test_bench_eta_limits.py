"""The ETA limits bench: recency reads only the past, and its oracles see the true journey."""

from __future__ import annotations

from bench.eta import DAY, HOUR, WARM_UP_DAYS, History, Observation
from bench.eta_limits import Recent, collect
from corridor.reference import load_reference
from simulator.config import SimulationConfig
from simulator.journeys import simulate_journeys

KEY = ("KZ-NUR-ZHOLY", "road", "inbound")


def test_recent_stays_are_those_that_ended_in_the_window_before_the_hour_asked() -> None:
    ask = 10 * DAY + 30 * 60  # statistics are the hour's, as bench.eta recomputes them
    recent = Recent(
        [
            Observation(KEY, 0, 6 * DAY),  # ended before the window
            Observation(KEY, 6 * DAY, 8 * DAY),
            Observation(KEY, 9 * DAY, 10 * DAY - 1),
            Observation(KEY, 9 * DAY, 10 * DAY + 60),  # ended after the hour began
            Observation(("GE-SARPI", "road", "outbound"), 9 * DAY, 9 * DAY + HOUR),
        ]
    )
    assert recent.seconds(ask, 3, KEY) == [2 * DAY, DAY - 1]


def test_the_true_parts_of_every_ask_add_up_to_its_true_arrival() -> None:
    days = WARM_UP_DAYS + 2 + 40
    config = SimulationConfig(seed=5, consignments=10 * days, days=days)
    journeys = simulate_journeys(config, load_reference())
    start = int(config.start.timestamp())
    quarter = (start + WARM_UP_DAYS * DAY, start + (WARM_UP_DAYS + 2) * DAY)
    collected = collect(journeys, History(journeys), quarter)
    assert len(collected.asks) > 100
    assert len(collected.baseline_hours) == len(collected.asks)
    for ask in collected.asks:
        assert sum(part.true_seconds for part in ask.parts) == ask.truth - ask.at
        assert all(part.true_seconds >= 0 for part in ask.parts)
    assert any(part.boards_sailing for ask in collected.asks for part in ask.parts)
