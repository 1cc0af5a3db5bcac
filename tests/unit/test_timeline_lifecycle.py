"""The consignment state machine and the eTIR guards."""

from __future__ import annotations

from corridor import (
    AnomalyKind,
    ConsignmentState,
    EventType,
    References,
    TransitEvent,
    build_timeline,
)
from corridor.model import Timeline
from tests.unit.factories import POTI_ROUTE, declared, event, khorgos_to_aktau, reference, visit

E = EventType
S = ConsignmentState


def timeline(events: list[TransitEvent]) -> Timeline:
    return build_timeline(events, reference())


def invalid_transitions(t: Timeline) -> list[str]:
    return [a.detail for a in t.anomalies if a.kind is AnomalyKind.INVALID_TRANSITION]


def test_announced_until_a_declaration_is_accepted() -> None:
    submitted = [event(E.DECLARATION_SUBMITTED, "CN-KHORGOS", 0)]
    assert timeline(submitted).state is S.ANNOUNCED
    assert timeline(declared()).state is S.DECLARED
    assert timeline(declared()).current_location is None


def test_rejected_unless_accepted_later() -> None:
    rejected = event(E.DECLARATION_REJECTED, "CN-KHORGOS", 1)
    assert timeline([rejected]).state is S.REJECTED
    accepted_later = event(E.DECLARATION_ACCEPTED, "CN-KHORGOS", 2)
    assert timeline([rejected, accepted_later]).state is S.DECLARED


def test_a_rejection_after_goods_moved_concerns_an_amendment() -> None:
    events = [*khorgos_to_aktau(), event(E.DECLARATION_REJECTED, "KZ-AKTAU", 95)]
    assert timeline(events).state is S.AT_LOCATION


def test_at_location_while_the_latest_stay_is_open() -> None:
    t = timeline(khorgos_to_aktau())
    assert (t.state, t.current_location) == (S.AT_LOCATION, "KZ-AKTAU")


def test_in_transit_after_a_departure_at_the_last_location_departed() -> None:
    events = [*declared(), event(E.OPERATION_STARTED, "CN-KHORGOS", 0), *visit("CN-KHORGOS", 1, 5)]
    events += visit("KZ-NUR-ZHOLY", 6, 9)
    t = timeline(events)
    assert (t.state, t.current_location) == (S.IN_TRANSIT, "KZ-NUR-ZHOLY")


def test_in_transit_once_the_operation_started_before_any_stay() -> None:
    t = timeline([*declared(), event(E.OPERATION_STARTED, "CN-KHORGOS", 0)])
    assert (t.state, t.current_location) == (S.IN_TRANSIT, None)
    assert t.anomalies == ()


def test_completed_by_goods_released_at_destination() -> None:
    events = [*khorgos_to_aktau(), event(E.GOODS_RELEASED, "KZ-AKTAU", 99)]
    t = timeline(events)
    assert (t.state, t.current_location) == (S.COMPLETED, "KZ-AKTAU")


def test_completed_once_the_last_route_location_is_departed() -> None:
    events = [*declared(POTI_ROUTE), event(E.OPERATION_STARTED, "CN-KHORGOS", 0)]
    events += [*visit("GE-RED-BRIDGE", 1, 3), *visit("GE-POTI", 10, 50)]
    assert timeline(events).state is S.COMPLETED


def test_completed_by_discharge_in_the_routes_last_country() -> None:
    base = [*declared(POTI_ROUTE), event(E.OPERATION_STARTED, "CN-KHORGOS", 0)]
    in_georgia = timeline([*base, event(E.OPERATION_DISCHARGED, "GE-RED-BRIDGE", 20)])
    in_kazakhstan = timeline([*base, event(E.OPERATION_DISCHARGED, "KZ-AKTAU", 20)])
    assert in_georgia.state is S.COMPLETED
    assert in_kazakhstan.state is S.IN_TRANSIT


def test_cancelled_before_release() -> None:
    t = timeline([*declared(), event(E.CONSIGNMENT_CANCELLED, "CN-KHORGOS", 1)])
    assert t.state is S.CANCELLED
    assert t.anomalies == ()


def test_a_cancellation_after_the_start_is_recorded_but_not_applied() -> None:
    events = [*khorgos_to_aktau(), event(E.CONSIGNMENT_CANCELLED, "KZ-AKTAU", 95)]
    t = timeline(events)
    assert t.state is S.AT_LOCATION
    assert len(invalid_transitions(t)) == 1
    assert E.CONSIGNMENT_CANCELLED in {e.event_type for e in t.events}


def test_a_cancellation_after_the_permit_was_used_is_not_applied() -> None:
    used = event(E.PERMIT_USED, "TR-SARP", 1, permit_activity="ENTRANCE")
    t = timeline([*declared(), used, event(E.CONSIGNMENT_CANCELLED, "CN-KHORGOS", 2)])
    assert t.state is S.DECLARED
    assert len(invalid_transitions(t)) == 1


def test_a_permit_revoked_after_use_is_an_invalid_transition() -> None:
    permit = References(permit_id="TR-AZ-2026-1-1042")
    before = event(E.PERMIT_REVOKED, "TR-SARP", 0, references=permit)
    used = event(E.PERMIT_USED, "TR-SARP", 1, references=permit)
    after = event(E.PERMIT_REVOKED, "TR-SARP", 2, references=permit)
    assert invalid_transitions(timeline([before, used])) == []
    assert len(invalid_transitions(timeline([used, after]))) == 1


def test_a_start_needs_an_accepted_declaration() -> None:
    t = timeline([event(E.OPERATION_STARTED, "CN-KHORGOS", 0)])
    assert ["220" in detail for detail in invalid_transitions(t)] == [True]
    assert t.state is S.IN_TRANSIT  # the start is a fact even if the acceptance is missing


def test_termination_and_discharge_need_a_start() -> None:
    events = [
        *declared(),
        event(E.OPERATION_TERMINATED, "KZ-AKTAU", 1),
        event(E.OPERATION_DISCHARGED, "KZ-AKTAU", 2),
    ]
    assert ["213" in detail for detail in invalid_transitions(timeline(events))] == [True, True]


def test_repeating_a_start_termination_or_discharge_at_one_location_is_refused() -> None:
    events = [*declared()]
    for offset, kind in enumerate(
        (E.OPERATION_STARTED, E.OPERATION_TERMINATED, E.OPERATION_DISCHARGED)
    ):
        events += [
            event(kind, "KZ-NUR-ZHOLY", offset * 2),
            event(kind, "KZ-NUR-ZHOLY", offset * 2 + 1),
        ]
    assert len(invalid_transitions(timeline(events))) == 3


def test_one_operation_per_country_is_fine() -> None:
    events = [*declared()]
    for hours, location in enumerate(("KZ-NUR-ZHOLY", "AZ-ALAT")):
        events += [
            event(E.OPERATION_STARTED, location, hours * 10),
            event(E.OPERATION_TERMINATED, location, hours * 10 + 5),
        ]
    assert invalid_transitions(timeline(events)) == []


def test_a_start_after_cancellation_is_an_invalid_transition() -> None:
    events = [*declared(), event(E.CONSIGNMENT_CANCELLED, "CN-KHORGOS", 1)]
    t = timeline([*events, event(E.OPERATION_STARTED, "CN-KHORGOS", 2)])
    assert t.state is S.CANCELLED
    assert len(invalid_transitions(t)) == 1
