"""Timeline → rows mapping, API keys, alert keys and cursors: pure, no database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from corridor.events import (
    BorderDirection,
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransitEvent,
    TransportMode,
)
from corridor.journey import (
    ConsignmentState,
    Crossing,
    Stay,
    StayStatus,
    Timeline,
)
from corridor.reference import load_reference
from storage.rows import event_row, normalize_reference, timeline_rows

T0 = datetime(2026, 3, 2, tzinfo=UTC)


def _event(kind: EventType, hours: float, refs: References, **attributes: object) -> TransitEvent:
    return TransitEvent(
        event_id=uuid.uuid4(),
        event_type=kind,
        occurred_at=T0 + timedelta(hours=hours),
        location="KZ-DOSTYK",
        consignment_id="C-1",
        carrier_id="CARRIER-A",
        references=refs,
        source=Source(system=SourceSystem.GATE),
        attributes=EventAttributes.model_validate(attributes),
    )


def _timeline() -> Timeline:
    events = (
        _event(
            EventType.GATE_ARRIVED,
            0,
            References(tir_carnet="xh 111", vehicle_plates=("b 2",)),
            mode=TransportMode.RAIL,
            direction=BorderDirection.INBOUND,
        ),
        _event(EventType.GATE_DEPARTED, 5, References(tir_carnet="XH222", vehicle_plates=("a-1",))),
    )
    stay = Stay(
        "C-1",
        "KZ-DOSTYK",
        1,
        events[0].occurred_at,
        StayStatus.COMPLETED,
        departed_at=events[1].occurred_at,
    )
    crossing = Crossing(
        "C-1",
        "alashankou-dostyk",
        "CN-ALASHANKOU",
        "KZ-DOSTYK",
        "CN->KZ",
        T0 - timedelta(hours=3),
        None,
    )
    return Timeline(
        "C-1",
        "CARRIER-A",
        ConsignmentState.IN_TRANSIT,
        None,
        events[1].occurred_at,
        "road-nur-zholy-aktau-kapikule",
        events,
        (stay,),
        (crossing,),
        (),
    )


def test_consignment_row_collects_references_and_version() -> None:
    rows = timeline_rows(_timeline(), load_reference())
    row = rows.consignment
    assert row.tir_carnet == "XH222"  # the latest one
    assert row.vehicle_plates == ["A1", "B2"]  # union, normalised, sorted
    assert row.version == (2, T0 + timedelta(hours=5))
    assert row.first_event_at == T0
    assert row.declared_route[0] == "CN-KHORGOS"


def test_stay_row_takes_mode_direction_and_country() -> None:
    (stay,) = timeline_rows(_timeline(), load_reference()).stays
    assert (stay.mode, stay.direction, stay.country) == ("rail", "inbound", "KZ")
    assert stay.dwell_seconds == 5 * 3600


def test_open_crossing_is_in_progress_with_border_mode() -> None:
    (crossing,) = timeline_rows(_timeline(), load_reference()).crossings
    assert (crossing.status, crossing.tfi1_seconds) == ("in_progress", None)
    assert crossing.mode == "rail"


def test_without_reference_data_country_comes_from_the_code() -> None:
    (stay,) = timeline_rows(_timeline()).stays
    assert stay.country == "KZ"


def test_event_row_keeps_the_whole_event() -> None:
    event = _timeline().events[0]
    row = event_row(event)
    assert TransitEvent.model_validate_json(row.payload) == event
    assert row.fingerprint == event.fingerprint()


@pytest.mark.parametrize(
    ("raw", "expected"), [("01 abc-123", "01ABC123"), ("CSQU3054383", "CSQU3054383")]
)
def test_normalize_reference(raw: str, expected: str) -> None:
    assert normalize_reference(raw) == expected


def test_permit_ids_keep_their_dashes() -> None:
    timeline = _timeline()
    permitted = timeline.events[-1].model_copy(
        update={"references": References(permit_id=" tr-az-2026-1-1042 ")}
    )
    row = timeline_rows(
        replace(timeline, events=(*timeline.events[:-1], permitted)), load_reference()
    ).consignment
    assert row.permit_id == "TR-AZ-2026-1-1042"


def test_legs_and_stays_a_plausibility_rule_voids_are_flagged_for_kpis() -> None:
    from corridor.timeline import build_timeline
    from tests.unit.factories import declared, event, visit

    too_fast = [*declared(), *visit("KZ-NUR-ZHOLY", 0, 1), *visit("KZ-AKTAU", 14.8, 20)]
    instant = [
        event(EventType.GATE_ARRIVED, "AZ-ALAT", 45),
        event(EventType.GATE_DEPARTED, "AZ-ALAT", 45),
    ]
    rows = timeline_rows(build_timeline([*too_fast, *instant], load_reference()))
    assert [(leg.to_location, leg.implausible) for leg in rows.legs] == [
        ("KZ-AKTAU", True),
        ("AZ-ALAT", False),
    ]
    assert [(stay.location, stay.implausible) for stay in rows.stays] == [
        ("KZ-NUR-ZHOLY", False),
        ("KZ-AKTAU", False),
        ("AZ-ALAT", True),
    ]
