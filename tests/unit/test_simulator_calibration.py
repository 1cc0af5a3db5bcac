"""Drawn dwell, queues, sailings and speeds follow the calibration table."""

from __future__ import annotations

import statistics
from collections import defaultdict
from functools import cache

from corridor.events import BorderDirection, TransportMode
from corridor.reference import CorridorReference, LocationKind, load_reference
from simulator import DEFAULT_CALIBRATION, SimulationConfig
from simulator.journeys import Journey, simulate_journeys

MIN_SAMPLES = 1000  # a lognormal median (p90/median 2.7) then has a standard error of ~3%


@cache
def reference() -> CorridorReference:
    return load_reference()


@cache
def journeys() -> tuple[Journey, ...]:
    config = SimulationConfig(seed=99, consignments=6000, days=60)
    return tuple(simulate_journeys(config, reference()))


def _by_key(value: str) -> dict[tuple[str, TransportMode, BorderDirection], list[int]]:
    samples: dict[tuple[str, TransportMode, BorderDirection], list[int]] = defaultdict(list)
    for journey in journeys():
        for stay in journey.stays:
            key = (stay.location, journey.mode, stay.direction)
            samples[key].append(
                stay.service if value == "service" else stay.released - stay.arrived
            )
    return samples


def test_service_time_medians_match_the_table() -> None:
    table = DEFAULT_CALIBRATION.dwell_table()
    checked = 0
    for key, values in _by_key("service").items():
        if len(values) < MIN_SAMPLES:
            continue
        configured = table[key].median_hours * 3600
        assert abs(statistics.median(values) / configured - 1) < 0.10, key
        checked += 1
    assert checked >= 8


def test_arrival_to_release_matches_the_table_where_nothing_queues() -> None:
    table = DEFAULT_CALIBRATION.dwell_table()
    queued = {(c.location, c.mode) for c in DEFAULT_CALIBRATION.capacity}
    checked = 0
    for (location, mode, direction), values in _by_key("dwell").items():
        if (location, mode) in queued or len(values) < MIN_SAMPLES:
            continue
        configured = table[(location, mode, direction)].median_hours * 3600
        assert abs(statistics.median(values) / configured - 1) < 0.10, location
        checked += 1
    assert checked >= 6


def test_p90_is_about_the_configured_ratio() -> None:
    values = _by_key("service")[("CN-KHORGOS", TransportMode.ROAD, BorderDirection.OUTBOUND)]
    deciles = statistics.quantiles(values, n=10)
    assert 2.3 < deciles[8] / statistics.median(values) < 3.1


def test_capacity_caps_build_queues() -> None:
    waits: dict[str, list[int]] = defaultdict(list)
    for journey in journeys():
        for stay in journey.stays:
            waits[stay.location].append(stay.start - stay.arrived)
    for location in ("KZ-NUR-ZHOLY", "CN-IRKESHTAM", "AZ-RED-BRIDGE"):
        assert statistics.mean(waits[location]) > 3600, location
    assert max(waits["GE-SARPI"]) == 0


def test_trucks_wait_for_a_sailing_and_share_the_vessel() -> None:
    boarded: dict[str, set[str]] = defaultdict(set)
    for journey in journeys():
        for stay in journey.stays:
            if stay.boarded is not None:
                assert reference().location(stay.location).kind is LocationKind.SEA_PORT
                assert stay.departed >= stay.released + 2 * 3600
                boarded[stay.boarded.voyage].add(journey.consignment_id)
                sea_hours = (stay.boarded.arrives - stay.boarded.departs) / 3600
                assert 12 <= sea_hours < 24 * 6
    assert statistics.mean(len(v) for v in boarded.values()) > 5


def test_leg_speeds_are_near_the_cpmm_swod() -> None:
    speeds: dict[TransportMode, list[float]] = defaultdict(list)
    for journey in journeys():
        for here, there in zip(journey.stays, journey.stays[1:], strict=False):
            segment = reference().segment(here.location, there.location)
            assert segment is not None
            if segment.km > 100 and segment.mode is not TransportMode.SEA:
                speeds[segment.mode].append(segment.km / ((there.arrived - here.departed) / 3600))
    assert abs(statistics.median(speeds[TransportMode.ROAD]) - 42.0) < 3
    assert abs(statistics.median(speeds[TransportMode.RAIL]) - 53.9) < 4
