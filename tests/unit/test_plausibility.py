"""Plausibility rules: what no real journey can do is an anomaly and leaves the KPIs."""

from __future__ import annotations

from datetime import timedelta

from corridor import AnomalyKind, EventType, TransitEvent, build_timeline
from corridor.alerts import AlertKind, alerts_for_timeline
from corridor.events import TransportMode
from corridor.journey import Leg, Timeline
from corridor.plausibility import DEFAULT_LIMITS, leg_breach
from tests.unit.factories import at, declared, event, khorgos_to_aktau, reference, visit

E = EventType


def timeline(events: list[TransitEvent]) -> Timeline:
    return build_timeline(events, reference())


def kinds(t: Timeline) -> list[AnomalyKind]:
    return [a.kind for a in t.anomalies]


def test_the_issues_truck_doing_nur_zholy_to_aktau_in_13_8_hours_is_too_fast() -> None:
    events = [*declared(), *visit("KZ-NUR-ZHOLY", 0, 1), *visit("KZ-AKTAU", 14.8, None)]
    t = timeline(events)
    assert kinds(t) == [AnomalyKind.LEG_TOO_FAST]
    assert "3050 km by road" in t.anomalies[0].detail
    assert "221 km/h" in t.anomalies[0].detail
    assert t.anomalies[0].location == "KZ-AKTAU"
    assert t.implausible_legs == frozenset({0})


def test_the_issues_ferry_crossing_the_caspian_in_3_8_hours_is_too_fast() -> None:
    events = [*visit("KZ-AKTAU", 0, 1), *visit("AZ-ALAT", 4.8, 6)]
    t = timeline(events)
    assert kinds(t) == [AnomalyKind.LEG_TOO_FAST]
    assert "by sea" in t.anomalies[0].detail
    assert t.implausible_legs == frozenset({0})


def test_a_realistic_journey_raises_nothing() -> None:
    t = timeline(khorgos_to_aktau())
    assert t.anomalies == ()
    assert t.implausible_legs == frozenset()
    assert t.implausible_stays == frozenset()


def test_the_speed_limit_leaves_a_clock_tolerance() -> None:
    # 2 km at 90 km/h is 80 s; gate clocks on both sides of a border disagree by minutes.
    assert (
        timeline([*visit("TR-KAPIKULE", 0, 1), *visit("BG-KAPITAN-ANDREEVO", 1.01, 2)]).anomalies
        == ()
    )
    leg = Leg("C", "A", "B", TransportMode.RAIL, at(0), at(24), 3000.0)
    breach = leg_breach(leg)  # 3000 km of rail in 24 h: 125 km/h
    assert breach is not None
    assert breach[0] is AnomalyKind.LEG_TOO_FAST
    assert leg_breach(Leg("C", "A", "B", TransportMode.RAIL, at(0), at(26), 3000.0)) is None


def test_an_arrival_before_the_previous_departure_is_a_non_positive_leg() -> None:
    # The Alat gate's clock runs hours behind: the arrival is stamped before Aktau's departure.
    events = [*visit("KZ-AKTAU", 0, 30), *visit("AZ-ALAT", 28, 40)]
    t = timeline(events)
    assert AnomalyKind.NON_POSITIVE_DURATION in kinds(t)
    assert t.implausible_legs == frozenset({0})


def test_a_leg_of_zero_seconds_is_non_positive() -> None:
    leg = Leg("C", "KZ-AKTAU", "AZ-ALAT", TransportMode.SEA, at(5), at(5), 430.0)
    breach = leg_breach(leg)
    assert breach is not None
    assert breach[0] is AnomalyKind.NON_POSITIVE_DURATION


def test_a_stay_departed_the_instant_it_arrived_is_void() -> None:
    arrived = event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0)
    departed = event(E.GATE_DEPARTED, "KZ-NUR-ZHOLY", 0)
    t = timeline([arrived, departed])
    assert kinds(t) == [AnomalyKind.NON_POSITIVE_DURATION]
    assert t.implausible_stays == frozenset({0})


def test_a_jump_between_locations_no_segment_joins() -> None:
    # Nur Zholy straight to Alat: the Aktau port never reported the truck.
    events = [*declared(), *visit("KZ-NUR-ZHOLY", 0, 1), *visit("AZ-ALAT", 200, 210)]
    t = timeline(events)
    assert kinds(t) == [AnomalyKind.UNCONNECTED_JUMP]
    assert t.anomalies[0].detail == "KZ-NUR-ZHOLY -> AZ-ALAT: no segment joins them"


def test_a_return_along_a_segment_is_no_jump() -> None:
    events = [*visit("AZ-ALAT", 0, 10), *visit("AZ-RED-BRIDGE", 30, 40), *visit("AZ-ALAT", 60, 70)]
    assert timeline(events).anomalies == ()


def test_an_event_a_year_away_from_the_rest_is_out_of_sequence() -> None:
    typo = event(E.GATE_RELEASED, "KZ-AKTAU", -365 * 24)  # 2025 typed for 2026
    t = timeline([*khorgos_to_aktau(), typo])
    assert kinds(t) == [AnomalyKind.OUT_OF_SEQUENCE]
    assert t.anomalies[0].occurred_at == typo.occurred_at
    assert "365 days" in t.anomalies[0].detail


def test_an_isolated_arrival_voids_its_stay_and_legs() -> None:
    events = [
        *declared(),
        *visit("KZ-NUR-ZHOLY", 0, 1),
        event(E.GATE_ARRIVED, "KZ-AKTAU", 24 * 400),
    ]
    t = timeline(events)
    assert AnomalyKind.OUT_OF_SEQUENCE in kinds(t)
    assert t.implausible_stays == frozenset({1})
    assert t.implausible_legs == frozenset({0})


def test_permits_issued_months_ahead_are_not_out_of_sequence() -> None:
    early = event(E.PERMIT_ISSUED, "TR-SARP", -24 * 120)
    assert timeline([*khorgos_to_aktau(), early]).anomalies == ()


def test_two_events_far_apart_name_no_culprit() -> None:
    events = [event(E.GATE_ARRIVED, "KZ-AKTAU", 0), event(E.GATE_RELEASED, "KZ-AKTAU", 24 * 60)]
    assert timeline(events).anomalies == ()


def test_each_plausibility_anomaly_is_an_alert_kind() -> None:
    events = [*declared(), *visit("KZ-NUR-ZHOLY", 0, 1), *visit("KZ-AKTAU", 14.8, None)]
    alerts = alerts_for_timeline(timeline(events))
    assert [a.kind for a in alerts] == [AlertKind.LEG_TOO_FAST]
    for kind in (
        AnomalyKind.LEG_TOO_FAST,
        AnomalyKind.NON_POSITIVE_DURATION,
        AnomalyKind.UNCONNECTED_JUMP,
        AnomalyKind.OUT_OF_SEQUENCE,
    ):
        assert AlertKind(kind.value)


def test_limits_match_the_documented_figures() -> None:
    assert DEFAULT_LIMITS.top_speed_kmh == {
        TransportMode.ROAD: 90.0,
        TransportMode.RAIL: 120.0,
        TransportMode.SEA: 40.0,
    }
    assert DEFAULT_LIMITS.clock_tolerance == timedelta(minutes=15)
