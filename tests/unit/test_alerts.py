from __future__ import annotations

from datetime import timedelta

from corridor.alerts import (
    WITHDRAWABLE_KINDS,
    AlertKind,
    OverduePolicy,
    alerts_for_timeline,
    current_alert_keys,
    overdue_alerts,
)
from corridor.events import EventType
from corridor.model import Stay, StayStatus
from corridor.timeline import build_timeline
from tests.unit.factories import CARRIER, at, declared, event, reference, visit


def _open_stay(location: str, arrived_hours: float, visit_no: int = 1) -> Stay:
    return Stay("C-1", location, visit_no, at(arrived_hours), StayStatus.IN_PROGRESS)


def test_stay_past_the_fixed_threshold_is_overdue() -> None:
    policy = OverduePolicy(threshold=timedelta(hours=48))
    alerts = overdue_alerts([(_open_stay("KZ-NUR-ZHOLY", 0), "carrier-a")], at(49), policy, {})
    assert [(a.kind, a.location, a.carrier_id) for a in alerts] == [
        (AlertKind.OVERDUE_STAY, "KZ-NUR-ZHOLY", "carrier-a")
    ]
    assert alerts[0].occurred_at == at(48)


def test_stay_within_the_threshold_is_not_overdue() -> None:
    policy = OverduePolicy(threshold=timedelta(hours=48))
    assert overdue_alerts([(_open_stay("KZ-NUR-ZHOLY", 0), "c")], at(47), policy, {}) == []


def test_location_p90_tightens_the_limit_once_it_rests_on_enough_stays() -> None:
    policy = OverduePolicy(threshold=timedelta(hours=48), min_p90_sample=20)
    stays = [(_open_stay("GE-SARPI", 0), "c")]
    ten_hours = 10 * 3600.0
    assert overdue_alerts(stays, at(11), policy, {"GE-SARPI": (ten_hours, 25)})
    # Too few completed stays behind the p90: the fixed threshold still applies.
    assert overdue_alerts(stays, at(11), policy, {"GE-SARPI": (ten_hours, 5)}) == []


def test_completed_stays_are_never_overdue() -> None:
    stay = Stay("C-1", "KZ-AKTAU", 1, at(0), StayStatus.COMPLETED, departed_at=at(100))
    assert overdue_alerts([(stay, "c")], at(500), OverduePolicy(timedelta(hours=1)), {}) == []


def test_overdue_dedup_key_is_per_visit() -> None:
    policy = OverduePolicy(threshold=timedelta(hours=1))
    first = overdue_alerts([(_open_stay("KZ-AKTAU", 0, 1), "c")], at(5), policy, {})
    again = overdue_alerts([(_open_stay("KZ-AKTAU", 0, 1), "c")], at(9), policy, {})
    second_visit = overdue_alerts([(_open_stay("KZ-AKTAU", 0, 2), "c")], at(5), policy, {})
    assert first[0].dedup_key == again[0].dedup_key != second_visit[0].dedup_key


def test_anomalies_become_alerts_with_the_timeline_carrier() -> None:
    events = [
        *declared(),
        *visit("CN-KHORGOS", 0, 10),
        event(EventType.GATE_ARRIVED, "GE-BATUMI", 30),  # not on the declared road route
    ]
    alerts = alerts_for_timeline(build_timeline(events, reference()))
    off_route = [a for a in alerts if a.kind is AlertKind.OFF_ROUTE]
    assert len(off_route) == 1
    assert off_route[0].location == "GE-BATUMI"
    assert off_route[0].carrier_id == CARRIER


def test_a_late_arrival_leaves_departure_without_arrival_unsupported() -> None:
    arrival, released, departure = visit("CN-KHORGOS", 0, 10)
    before = build_timeline([*declared(), released, departure], reference())
    raised = [
        a for a in alerts_for_timeline(before) if a.kind is AlertKind.DEPARTURE_WITHOUT_ARRIVAL
    ]
    assert len(raised) == 1
    assert raised[0].dedup_key in current_alert_keys(before)

    after = build_timeline([*declared(), arrival, released, departure], reference())
    assert raised[0].dedup_key not in current_alert_keys(after)


def test_an_open_stay_supports_its_overdue_alert_until_it_departs() -> None:
    policy = OverduePolicy(threshold=timedelta(hours=1))
    arrival, released, departure = visit("CN-KHORGOS", 0, 10)
    waiting = build_timeline([*declared(), arrival], reference())
    [overdue] = overdue_alerts([(s, CARRIER) for s in waiting.stays], at(5), policy, {})
    assert overdue.dedup_key in current_alert_keys(waiting)

    departed = build_timeline([*declared(), arrival, released, departure], reference())
    assert overdue.dedup_key not in current_alert_keys(departed)


def test_dead_letters_are_never_withdrawn() -> None:
    assert AlertKind.DEAD_LETTER not in WITHDRAWABLE_KINDS
    assert set(AlertKind) - WITHDRAWABLE_KINDS == {AlertKind.DEAD_LETTER}
