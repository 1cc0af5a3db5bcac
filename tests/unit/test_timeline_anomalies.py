"""Off-route visits, seal changes, expired permits, and the order anomalies come in."""

from __future__ import annotations

from corridor import AnomalyKind, EventType, References, TransitEvent, build_timeline
from corridor.model import Timeline
from tests.unit.factories import at, declared, event, khorgos_to_aktau, reference, visit

E = EventType
PERMIT = References(permit_id="TR-AZ-2026-1-1042")


def timeline(events: list[TransitEvent]) -> Timeline:
    return build_timeline(events, reference())


def of_kind(t: Timeline, kind: AnomalyKind) -> list[str]:
    return [a.location for a in t.anomalies if a.kind is kind]


def test_a_location_off_the_declared_route_is_reported_once() -> None:
    events = [*khorgos_to_aktau(), *visit("GE-BATUMI", 200, 210)]
    assert of_kind(timeline(events), AnomalyKind.OFF_ROUTE) == ["GE-BATUMI"]


def test_the_route_is_checked_only_when_declared_and_known() -> None:
    undeclared = visit("GE-BATUMI", 0, 1)
    unknown = [*declared("no-such-route"), *visit("GE-BATUMI", 0, 1)]
    assert timeline(undeclared).anomalies == ()
    assert timeline(unknown).anomalies == ()


def test_office_events_off_the_route_are_not_off_route() -> None:
    events = [*declared(), event(E.PERMIT_ISSUED, "TR-ANKARA", -30)]
    assert timeline(events).anomalies == ()


def test_a_changed_seal_set_between_events_that_carry_seals() -> None:
    events = [
        event(E.GATE_ARRIVED, "KZ-AKTAU", 0, seals=("KZ123", "KZ124")),
        event(E.VESSEL_LOADED, "KZ-AKTAU", 5),
        event(E.SEALS_CHECKED, "AZ-ALAT", 30, seals=("KZ124", "KZ123")),
        event(E.SEALS_CHECKED, "AZ-ALAT", 31, seals=("AZ999",)),
    ]
    t = timeline(events)
    changes = [a for a in t.anomalies if a.kind is AnomalyKind.SEAL_CHANGED]
    assert [a.occurred_at for a in changes] == [at(31)]
    assert "AZ999" in changes[0].detail


def test_a_permit_used_after_its_issued_expiry() -> None:
    issued = event(E.PERMIT_ISSUED, "TR-ANKARA", -100, references=PERMIT, permit_expires_at=at(10))
    in_time = event(E.PERMIT_USED, "TR-SARP", 5, references=PERMIT)
    late = event(E.PERMIT_USED, "TR-KAPIKULE", 20, references=PERMIT)
    t = timeline([issued, in_time, late])
    assert of_kind(t, AnomalyKind.PERMIT_EXPIRED) == ["TR-KAPIKULE"]


def test_a_permit_used_after_its_own_expiry_attribute() -> None:
    late = event(E.PERMIT_USED, "TR-SARP", 20, references=PERMIT, permit_expires_at=at(10))
    assert of_kind(timeline([late]), AnomalyKind.PERMIT_EXPIRED) == ["TR-SARP"]


def test_another_permits_expiry_does_not_apply() -> None:
    other = References(permit_id="TR-GE-2026-1-7")
    issued = event(E.PERMIT_ISSUED, "TR-ANKARA", -100, references=other, permit_expires_at=at(0))
    used = event(E.PERMIT_USED, "TR-SARP", 20, references=PERMIT)
    assert timeline([issued, used]).anomalies == ()


def test_anomalies_are_ordered_by_time_then_event() -> None:
    events = [
        event(E.GATE_DEPARTED, "GE-SARPI", 9),
        event(E.OPERATION_STARTED, "CN-KHORGOS", 1),
        event(E.GATE_DEPARTED, "TR-SARP", 4),
    ]
    t = timeline(events)
    assert [a.occurred_at for a in t.anomalies] == [at(1), at(4), at(9)]
    assert all(a.consignment_id == t.consignment_id for a in t.anomalies)
