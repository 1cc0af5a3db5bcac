"""Stays, crossings and legs from small hand-built consignments."""

from __future__ import annotations

import pytest

from corridor import (
    AnomalyKind,
    EventType,
    InvalidEvent,
    StayStatus,
    TransitEvent,
    TransportMode,
    build_timeline,
)
from corridor.journey import Timeline
from tests.unit.factories import (
    CONSIGNMENT,
    at,
    declared,
    event,
    khorgos_to_aktau,
    reference,
    visit,
)

E = EventType


def timeline(events: list[TransitEvent]) -> Timeline:
    return build_timeline(events, reference())


def kinds(t: Timeline) -> list[AnomalyKind]:
    return [anomaly.kind for anomaly in t.anomalies]


def test_a_visit_runs_from_arrival_to_departure_with_release_and_inspection() -> None:
    t = timeline(
        [
            event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0),
            event(E.INSPECTION_STARTED, "KZ-NUR-ZHOLY", 2),
            event(E.INSPECTION_STARTED, "KZ-NUR-ZHOLY", 3),
            event(E.INSPECTION_COMPLETED, "KZ-NUR-ZHOLY", 4),
            event(E.INSPECTION_COMPLETED, "KZ-NUR-ZHOLY", 5),
            event(E.GATE_RELEASED, "KZ-NUR-ZHOLY", 6),
            event(E.GATE_RELEASED, "KZ-NUR-ZHOLY", 7),
            event(E.GATE_DEPARTED, "KZ-NUR-ZHOLY", 8),
        ]
    )
    (stay,) = t.stays
    assert stay.status is StayStatus.COMPLETED
    assert (stay.arrived_at, stay.departed_at, stay.released_at) == (at(0), at(8), at(6))
    assert (stay.inspection_started_at, stay.inspection_completed_at) == (at(2), at(5))
    assert stay.dwell_seconds == 8 * 3600
    assert stay.visit == 1


def test_further_arrivals_while_open_are_absorbed() -> None:
    t = timeline(
        [
            event(E.VESSEL_ARRIVED, "AZ-ALAT", 0),
            event(E.GATE_ARRIVED, "AZ-ALAT", 1),
            event(E.GATE_DEPARTED, "AZ-ALAT", 5),
        ]
    )
    assert [(s.arrived_at, s.departed_at) for s in t.stays] == [(at(0), at(5))]


def test_a_return_after_departure_is_a_new_visit_numbered_per_location() -> None:
    t = timeline(
        [*visit("KZ-AKTAU", 0, 2), *visit("AZ-ALAT", 30, 32), *visit("KZ-AKTAU", 60, None)]
    )
    assert [(s.location, s.visit) for s in t.stays] == [
        ("KZ-AKTAU", 1),
        ("AZ-ALAT", 1),
        ("KZ-AKTAU", 2),
    ]


def test_an_undeparted_stay_is_in_progress_until_seen_elsewhere() -> None:
    in_progress = timeline(visit("GE-RED-BRIDGE", 0, None))
    missing = timeline([*visit("AZ-RED-BRIDGE", 0, None), *visit("GE-RED-BRIDGE", 5, None)])
    assert in_progress.stays[0].status is StayStatus.IN_PROGRESS
    assert [s.status for s in missing.stays] == [
        StayStatus.DEPARTURE_MISSING,
        StayStatus.IN_PROGRESS,
    ]


def test_a_departure_without_an_open_visit_is_an_anomaly_not_a_stay() -> None:
    t = timeline([event(E.GATE_DEPARTED, "GE-SARPI", 3)])
    assert t.stays == ()
    assert kinds(t) == [AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL]
    assert t.anomalies[0].location == "GE-SARPI"


def test_events_outside_any_visit_make_no_stay() -> None:
    t = timeline([event(E.GATE_RELEASED, "GE-SARPI", 1), event(E.INSPECTION_STARTED, "TR-SARP", 2)])
    assert t.stays == ()


def test_a_border_pair_of_consecutive_stays_is_a_crossing() -> None:
    t = timeline(khorgos_to_aktau())
    (crossing,) = t.crossings
    assert crossing.border_id == "khorgos-nur-zholy"
    assert crossing.direction == "CN->KZ"
    assert (crossing.arrived_at, crossing.departed_at) == (at(0), at(30))
    assert crossing.tfi1_seconds == 30 * 3600


def test_a_crossing_still_under_way_has_no_departure() -> None:
    t = timeline([*visit("GE-SARPI", 0, 3), *visit("TR-SARP", 4, None)])
    (crossing,) = t.crossings
    assert crossing.direction == "GE->TR"
    assert crossing.departed_at is None


def test_legs_join_departed_stays_to_the_next_stay_with_segment_distance() -> None:
    t = timeline(khorgos_to_aktau())
    assert [(leg.from_location, leg.to_location, leg.distance_km) for leg in t.legs] == [
        ("CN-KHORGOS", "KZ-NUR-ZHOLY", 2),
        ("KZ-NUR-ZHOLY", "KZ-AKTAU", 3050),
    ]
    second = t.legs[1]
    assert (second.departed_at, second.arrived_at) == (at(30), at(90))
    assert second.origin_dwell_seconds == 9 * 3600
    assert second.mode is TransportMode.ROAD
    assert second.speed_without_delay_kmh == pytest.approx(3050 / 60)


def test_sea_leg_takes_the_segment_mode() -> None:
    t = timeline([*visit("KZ-AKTAU", 0, 10), *visit("AZ-ALAT", 30, None)])
    assert t.legs[0].mode is TransportMode.SEA


def test_a_leg_without_segment_has_no_distance_and_the_route_mode() -> None:
    events = [*declared("rail-altynkol-aktau-poti"), *visit("KZ-AKTAU", 0, 5)]
    events += visit("GE-POTI", 80, None)
    t = timeline(events)
    (leg,) = t.legs
    assert leg.distance_km is None
    assert leg.mode is TransportMode.RAIL


def test_no_leg_from_a_stay_that_never_departed() -> None:
    t = timeline([*visit("AZ-RED-BRIDGE", 0, None), *visit("GE-RED-BRIDGE", 5, None)])
    assert t.legs == ()
    assert t.crossings[0].direction == "AZ->GE"


def test_the_timeline_is_sorted_and_summarised() -> None:
    events = khorgos_to_aktau()
    t = timeline(list(reversed(events)))
    assert [e.sort_key for e in t.events] == sorted(e.sort_key for e in events)
    assert t.consignment_id == CONSIGNMENT
    assert t.last_event_at == at(90)
    assert t.route_id == "road-nur-zholy-aktau-kapikule"


def test_a_later_event_naming_another_carrier_does_not_take_the_consignment() -> None:
    t = timeline(
        [
            event(E.GATE_ARRIVED, "KZ-AKTAU", 0, carrier_id="TRUCKER-1"),
            event(E.VESSEL_LOADED, "KZ-AKTAU", 3, carrier_id="ASCO-FERRY"),
        ]
    )
    assert t.carrier_id == "TRUCKER-1"
    [conflict] = [a for a in t.anomalies if a.kind is AnomalyKind.IDENTITY_CONFLICT]
    assert conflict.detail.startswith("carrier_id:")


def test_the_latest_declaration_naming_a_route_wins() -> None:
    t = timeline([*declared("road-nur-zholy-aktau-poti", -20), *declared(hours=-5)])
    assert t.route_id == "road-nur-zholy-aktau-kapikule"


def test_identical_resends_collapse_silently() -> None:
    events = khorgos_to_aktau()
    assert timeline(events + events) == timeline(events)
    assert timeline(events + events).anomalies == ()


def test_conflicting_versions_of_one_event_keep_one_and_report_it() -> None:
    original = event(E.GATE_ARRIVED, "KZ-AKTAU", 1)
    changed = event(E.GATE_ARRIVED, "KZ-AKTAU", 2, event_id=original.event_id)
    forward, backward = timeline([original, changed]), timeline([changed, original])
    assert forward == backward
    assert len(forward.events) == 1
    assert forward.events[0].fingerprint() == min(original.fingerprint(), changed.fingerprint())
    assert kinds(forward) == [AnomalyKind.CONFLICTING_DUPLICATE]


def test_events_of_several_consignments_are_refused() -> None:
    with pytest.raises(InvalidEvent) as raised:
        timeline(
            [
                event(E.GATE_ARRIVED, "KZ-AKTAU"),
                event(E.GATE_ARRIVED, "KZ-AKTAU", consignment_id="X-2"),
            ]
        )
    assert raised.value.field == "consignment_id"


def test_no_events_is_refused() -> None:
    with pytest.raises(InvalidEvent):
        timeline([])
