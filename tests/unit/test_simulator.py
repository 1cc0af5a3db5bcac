"""The simulator: deterministic, contract-true events, and a truth the timeline agrees with."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from functools import cache
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from corridor.events import EventType, TransitEvent
from corridor.identifiers import (
    MRN_PATTERN,
    iso6346_check_digit,
    validate_customs_office,
    validate_mrn,
    validate_references,
)
from corridor.model import ConsignmentState, StayStatus
from corridor.reference import CorridorReference, load_reference
from simulator import (
    FaultRates,
    SimulationConfig,
    SimulationResult,
    read_truth,
    simulate,
    write_truth,
)
from simulator.cli import app
from simulator.faults import UNKNOWN_EVENT_TYPE, UNKNOWN_LOCATION, InvalidKind

# The phase 6 XSD's MRN layout from 2024: YY CC, 12 characters, procedure letter, check digit.
MRN_FROM_2024 = re.compile(r"^([2][4-9]|[3-9][0-9])[A-Z]{2}[A-Z0-9]{12}[J-M][0-9]$")


@cache
def reference() -> CorridorReference:
    return load_reference()


@cache
def run(
    profile: str = "clean", consignments: int = 150
) -> tuple[SimulationResult, tuple[TransitEvent, ...]]:
    config = SimulationConfig(
        seed=11, consignments=consignments, days=30, faults=FaultRates.preset(profile)
    )
    result = simulate(config, reference())
    events = tuple(delivery.event for delivery in result.deliveries)
    return result, events


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    runner = CliRunner()
    args = [
        "generate",
        "--seed",
        "5",
        "--consignments",
        "40",
        "--days",
        "20",
        "--faults",
        "faulty",
        "-q",
    ]
    for name in ("a", "b"):
        outcome = runner.invoke(
            app,
            [
                *args,
                "--out",
                str(tmp_path / f"{name}.ndjson"),
                "--truth",
                str(tmp_path / f"{name}.json"),
            ],
        )
        assert outcome.exit_code == 0, outcome.output
    assert (tmp_path / "a.ndjson").read_bytes() == (tmp_path / "b.ndjson").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    other = runner.invoke(app, [*args[:2], "6", *args[3:], "--out", str(tmp_path / "c.ndjson")])
    assert other.exit_code == 0
    assert (tmp_path / "c.ndjson").read_bytes() != (tmp_path / "a.ndjson").read_bytes()


def test_every_line_is_exactly_the_transit_event_json() -> None:
    result = simulate(SimulationConfig(seed=3, consignments=60, faults=FaultRates.preset("faulty")))
    for delivery in result.deliveries:
        line = delivery.json()
        event = TransitEvent.model_validate_json(line)
        assert event.model_dump_json() == line
        assert delivery.event == event


def test_every_event_validates_and_names_known_locations() -> None:
    _, events = run()
    ref = reference()
    for event in events:
        TransitEvent.model_validate(event.model_dump())
        assert ref.has_location(event.location), event
        assert re.fullmatch(r"MC-2026-\d{6}", event.consignment_id)
    kinds = {event.event_type for event in events}
    assert {EventType.VESSEL_LOADED, EventType.PERMIT_USED, EventType.GOODS_RELEASED} <= kinds


def test_identifiers_pass_the_corridor_validators() -> None:
    _, events = run()
    for event in events:
        # MRNs are checked below: the corridor validator knows only the pre-2024 layout.
        validate_references(event.references.model_copy(update={"mrn": None}))
        mrn = event.references.mrn
        assert mrn is not None
        assert MRN_PATTERN.fullmatch(mrn) or MRN_FROM_2024.fullmatch(mrn), mrn
        assert mrn[-1] == iso6346_check_digit(mrn[:-1])
        if event.attributes.customs_office:
            validate_customs_office(event.attributes.customs_office)
    assert any(event.references.container_numbers for event in events)
    assert any(event.references.permit_id for event in events)
    assert any(event.references.tir_carnet for event in events)


def test_mrns_of_2026_pass_the_corridor_mrn_validator() -> None:
    _, events = run()
    for event in events[:50]:
        assert event.references.mrn is not None
        validate_mrn(event.references.mrn)


def test_invalid_payloads_break_the_contract() -> None:
    # A few invalid payloads per hundred journeys: enough journeys that every kind is drawn.
    result, _ = run("faulty", 600)
    assert {p.defect for p in result.invalid_payloads} == set(InvalidKind)
    ref = reference()
    for invalid in result.invalid_payloads:
        payload = invalid.payload
        if invalid.defect in (InvalidKind.MISSING_TIMEZONE, InvalidKind.UNKNOWN_EVENT_TYPE):
            with pytest.raises(ValidationError):
                TransitEvent.model_validate(payload)
            continue
        event = TransitEvent.model_validate(payload)
        if invalid.defect is InvalidKind.UNKNOWN_LOCATION:
            assert event.location == UNKNOWN_LOCATION
            assert not ref.has_location(event.location)
        else:
            assert event.references.mrn is not None
            assert event.references.mrn[-1] != iso6346_check_digit(event.references.mrn[:-1])
    assert UNKNOWN_EVENT_TYPE not in {e.value for e in EventType}


@pytest.mark.parametrize("profile", ["clean", "faulty"])
def test_truth_agrees_with_build_timeline(profile: str) -> None:
    timeline = pytest.importorskip(
        "corridor.timeline", reason="corridor.timeline not written yet; the lead re-runs this"
    )
    result, events = run(profile)
    by_consignment: dict[str, list[TransitEvent]] = defaultdict(list)
    for event in events:
        by_consignment[event.consignment_id].append(event)
    assert set(by_consignment) == set(result.truth.consignments)
    for consignment_id, truth in result.truth.consignments.items():
        built = timeline.build_timeline(by_consignment[consignment_id], reference())
        assert built.stays == truth.stays, consignment_id
        assert built.crossings == truth.crossings, consignment_id
        assert built.legs == truth.legs, consignment_id
        assert (built.state, built.current_location) == (truth.state, truth.current_location)
        assert built.anomalies == truth.anomalies, consignment_id


def test_truth_covers_every_outcome_of_a_window() -> None:
    result, _ = run("faulty")
    states = {c.state for c in result.truth.consignments.values()}
    assert {
        ConsignmentState.COMPLETED,
        ConsignmentState.AT_LOCATION,
        ConsignmentState.IN_TRANSIT,
    } <= states
    statuses = {s.status for c in result.truth.consignments.values() for s in c.stays}
    assert statuses == set(StayStatus)
    crossings = [x for c in result.truth.consignments.values() for x in c.crossings]
    assert {"CN->KZ", "AZ->GE", "GE->TR"} <= {x.direction for x in crossings}
    assert any(
        leg.mode.value == "sea" for c in result.truth.consignments.values() for leg in c.legs
    )


def test_truth_json_round_trips(tmp_path: Path) -> None:
    result, _ = run("faulty")
    path = tmp_path / "truth.json"
    write_truth(result.truth, path, result.config.model_dump(mode="json"))
    document = json.loads(path.read_text())
    assert document["format"] == "corridor-simulator-truth/1"
    first = document["consignments"][0]
    assert {"stays", "crossings", "legs", "state", "current_location"} <= set(first)
    assert read_truth(path) == result.truth


def test_runs_sharing_a_database_keep_their_consignment_ids_apart() -> None:
    first = simulate(SimulationConfig(seed=1, consignments=5, days=10))
    later = simulate(SimulationConfig(seed=2, consignments=5, days=10, first_serial=700_001))
    first_ids = set(first.truth.consignments)
    later_ids = set(later.truth.consignments)
    assert not first_ids & later_ids
    assert min(later_ids).endswith("-700001")
    with pytest.raises(ValidationError, match="999999"):
        SimulationConfig(consignments=10, first_serial=999_995)
