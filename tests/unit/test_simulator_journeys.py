"""Every kind of journey and both directions: the truth says what build_timeline concludes."""

from __future__ import annotations

import json
from collections import defaultdict
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from corridor.alerts import AlertKind
from corridor.events import EventType, TransitEvent
from corridor.journey import AnomalyKind, ConsignmentState
from corridor.reference import CorridorReference, load_reference
from corridor.timeline import build_timeline
from simulator import FaultRates, SimulationConfig, SimulationResult, simulate
from simulator.cli import app
from simulator.config import JourneyKind, JourneyMix
from simulator.truth import ConsignmentTruth, expected_alerts

# Every kind often enough that a small run has each of them.
EVERY_KIND = JourneyMix(**{kind.value: 0.07 for kind in JourneyKind if kind.value != "regular"})
PLAUSIBILITY = {
    AnomalyKind.LEG_TOO_FAST,
    AnomalyKind.NON_POSITIVE_DURATION,
    AnomalyKind.UNCONNECTED_JUMP,
    AnomalyKind.OUT_OF_SEQUENCE,
}


@cache
def reference() -> CorridorReference:
    return load_reference()


def run(
    seed: int, consignments: int, profile: str = "faulty"
) -> tuple[SimulationResult, dict[str, list[TransitEvent]]]:
    config = SimulationConfig(
        seed=seed,
        consignments=consignments,
        days=30,
        faults=FaultRates.preset(profile),
        journeys=EVERY_KIND,
    )
    result = simulate(config, reference())
    events: dict[str, list[TransitEvent]] = defaultdict(list)
    for delivery in result.deliveries:
        events[delivery.consignment_id].append(delivery.event)
    return result, events


@cache
def month() -> tuple[SimulationResult, dict[str, list[TransitEvent]]]:
    return run(seed=21, consignments=400)


def assert_agrees(truth: ConsignmentTruth, events: list[TransitEvent]) -> None:
    built = build_timeline(events, reference())
    cid = truth.consignment_id
    assert built.stays == truth.stays, cid
    assert built.crossings == truth.crossings, cid
    assert built.legs == truth.legs, cid
    assert (built.state, built.current_location) == (truth.state, truth.current_location), cid
    assert built.anomalies == truth.anomalies, cid


def by_kind(kind: JourneyKind) -> list[ConsignmentTruth]:
    result, _ = month()
    return [c for c in result.truth.consignments.values() if c.kind is kind]


def test_truth_agrees_with_build_timeline_for_every_kind() -> None:
    result, events = month()
    assert {c.kind for c in result.truth.consignments.values()} == set(JourneyKind)
    for cid, truth in result.truth.consignments.items():
        assert_agrees(truth, events[cid])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_truth_agrees_whatever_the_seed(seed: int) -> None:
    result, events = run(seed, consignments=40)
    for cid, truth in result.truth.consignments.items():
        assert_agrees(truth, events[cid])


def test_rejected_and_cancelled_consignments_never_move() -> None:
    for kind, state in (
        (JourneyKind.REJECTED, ConsignmentState.REJECTED),
        (JourneyKind.CANCELLED, ConsignmentState.CANCELLED),
    ):
        cases = by_kind(kind)
        assert cases
        assert {c.state for c in cases} <= {
            state,
            ConsignmentState.ANNOUNCED,
            ConsignmentState.DECLARED,
        }
        assert any(c.state is state for c in cases)
        assert all(c.stays == () for c in cases)
        assert kinds_of(cases) <= {AnomalyKind.CONFLICTING_DUPLICATE}


def kinds_of(cases: list[ConsignmentTruth]) -> set[AnomalyKind]:
    return {a.kind for c in cases for a in c.anomalies}


def test_changes_on_the_way_raise_their_anomaly_and_alert() -> None:
    expected = {
        JourneyKind.DEVIATION: AnomalyKind.OFF_ROUTE,
        JourneyKind.SEAL_BROKEN: AnomalyKind.SEAL_CHANGED,
        JourneyKind.SEALS_REPLACED: AnomalyKind.SEAL_CHANGED,
        JourneyKind.PERMIT_EXPIRED: AnomalyKind.PERMIT_EXPIRED,
        JourneyKind.PERMIT_REVOKED: AnomalyKind.INVALID_TRANSITION,
    }
    for kind, anomaly in expected.items():
        cases = by_kind(kind)
        assert anomaly in kinds_of(cases), kind
        alerts = [a.kind for c in cases for a in expected_alerts(c)]
        assert AlertKind(anomaly.value) in alerts


@cache
def clean_month() -> tuple[SimulationResult, dict[str, list[TransitEvent]]]:
    return run(seed=22, consignments=300, profile="clean")


def test_journeys_that_go_as_declared_raise_nothing() -> None:
    truths = list(clean_month()[0].truth.consignments.values())
    for kind in (
        JourneyKind.REGULAR,
        JourneyKind.BREAKDOWN,
        JourneyKind.ACCIDENT,
        JourneyKind.PERMIT_REPLACED,
        JourneyKind.RETURN,
    ):
        assert kinds_of([c for c in truths if c.kind is kind]) == set(), kind


def test_simulated_physics_is_plausible() -> None:
    result, _ = clean_month()
    assert not kinds_of(list(result.truth.consignments.values())) & PLAUSIBILITY


def test_a_gate_clock_two_hours_behind_makes_legs_into_it_non_positive() -> None:
    result, events = month()
    flagged = [
        a for c in result.truth.consignments.values() for a in c.anomalies if a.kind in PLAUSIBILITY
    ]
    skewed = [a for a in flagged if a.kind is AnomalyKind.NON_POSITIVE_DURATION]
    assert skewed
    # Mostly the leg across the bridge; where the Azerbaijani side took under 2 h, the
    # Georgian arrival even sorts first and the legs around it turn odd as well.
    common = [a for a in skewed if a.detail.startswith("AZ-RED-BRIDGE -> GE-RED-BRIDGE took -")]
    assert len(common) > len(skewed) / 2
    assert all("GE-RED-BRIDGE" in a.detail for a in skewed)
    for c in result.truth.consignments.values():
        built = build_timeline(events[c.consignment_id], reference())
        void = {
            (built.legs[i].from_location, built.legs[i].to_location) for i in built.implausible_legs
        }
        assert all("GE-RED-BRIDGE" in leg for leg in void), void


def test_a_gate_silent_about_arrivals_for_a_day_leaves_departures_without_arrival() -> None:
    result, _ = month()
    day = result.truth.start.timestamp() + 12 * 86400
    orphans = [
        a
        for c in result.truth.consignments.values()
        for a in c.anomalies
        if a.kind is AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL and a.location == "GE-SARPI"
    ]
    assert orphans
    assert all(day <= a.occurred_at.timestamp() for a in orphans)
    jumps = [
        a
        for c in result.truth.consignments.values()
        for a in c.anomalies
        if a.kind is AnomalyKind.UNCONNECTED_JUMP
    ]
    assert jumps
    assert all("GE-SARPI" not in a.detail for a in jumps)  # the stay that was never opened


def test_a_split_consignment_reports_each_second_departure_without_an_arrival() -> None:
    _, events = month()
    cases = [c for c in by_kind(JourneyKind.SPLIT) if c.stays]
    assert any(a.kind is AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL for c in cases for a in c.anomalies)
    for truth in cases:
        seen = events[truth.consignment_id]
        declared = next(e for e in seen if e.event_type is EventType.DECLARATION_SUBMITTED)
        second = {
            str(e.event_id)
            for e in seen
            if e.event_type is EventType.GATE_DEPARTED
            and e.references.vehicle_plates != declared.references.vehicle_plates
        }
        # The first truck's departure closes each visit; the second finds none open.
        orphans = {
            a.event_id for a in truth.anomalies if a.kind is AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL
        }
        assert orphans == second


def test_a_return_visits_a_location_twice() -> None:
    assert any(s.visit == 2 for c in by_kind(JourneyKind.RETURN) for s in c.stays)


def test_incidents_are_reported_with_their_reason() -> None:
    _, events = month()
    reasons = {
        e.attributes.reason
        for c in by_kind(JourneyKind.BREAKDOWN) + by_kind(JourneyKind.ACCIDENT)
        for e in events[c.consignment_id]
        if e.event_type is EventType.INCIDENT_REPORTED
    }
    assert reasons == {"breakdown", "accident"}


def test_both_directions_every_mode_and_the_branches() -> None:
    result, _ = month()
    truths = list(result.truth.consignments.values())
    directions = {x.direction for c in truths for x in c.crossings}
    assert {
        "CN->KZ",
        "KZ->CN",
        "AZ->GE",
        "GE->AZ",
        "GE->TR",
        "TR->GE",
        "KG->KZ",
        "KZ->KG",
    } <= directions
    borders = {x.border_id for c in truths for x in c.crossings}
    assert {
        "khorgos-altynkol",
        "alashankou-dostyk",
        "beyuk-kesik-gardabani",
        "akhalkalaki-kars",
    } <= borders
    sea = {
        (leg.from_location, leg.to_location)
        for c in truths
        for leg in c.legs
        if leg.mode.value == "sea"
    }
    assert {("KZ-AKTAU", "AZ-ALAT"), ("AZ-ALAT", "KZ-AKTAU"), ("AZ-ALAT", "KZ-KURYK")} <= sea


def test_the_command_line_can_leave_out_every_kind_but_regular(tmp_path: Path) -> None:
    summaries = {}
    for flag in ("--journeys", "--regular-only"):
        path = tmp_path / f"{flag}.json"
        args = ["generate", "--consignments", "200", "--out", str(tmp_path / "e"), "-q"]
        outcome = CliRunner().invoke(app, [*args, flag, "--summary-json", str(path)])
        assert outcome.exit_code == 0, outcome.output
        summaries[flag] = json.loads(path.read_text())["journey_kinds"]
    assert summaries["--regular-only"] == {"regular": 200}
    assert len(summaries["--journeys"]) > 5
