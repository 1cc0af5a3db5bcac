"""Fault injection honours its rates, and a clean run has no faults at all."""

from __future__ import annotations

from collections import Counter, defaultdict

from simulator import Delivery, FaultKind, FaultRates, SimulationConfig, simulate

RATES = FaultRates(
    duplicate=0.05,
    out_of_order=0.05,
    late=0.04,
    missing_departure=0.05,
    conflicting_duplicate=0.1,
    invalid=0.02,
)


def test_fault_rates_are_honoured_within_tolerance() -> None:
    result = simulate(SimulationConfig(seed=21, consignments=150, faults=RATES))
    deliveries = list(result.deliveries)
    faults = Counter(d.fault for d in deliveries)
    originals = sum(
        1
        for d in deliveries
        if d.fault not in (FaultKind.DUPLICATE, FaultKind.CONFLICTING_DUPLICATE)
    )
    assert originals > 5000
    for kind, rate in (
        (FaultKind.DUPLICATE, RATES.duplicate),
        (FaultKind.OUT_OF_ORDER, RATES.out_of_order),
        (FaultKind.LATE, RATES.late),
    ):
        assert abs(faults[kind] / originals - rate) < rate * 0.25, (kind, faults[kind], originals)
    departures = sum(
        1 for c in result.truth.consignments.values() for s in c.stays if s.departed_at
    )
    dropped = sum(len(j.dropped_departures) for j in result.journeys)
    assert abs(dropped / (departures + dropped) - RATES.missing_departure) < 0.02
    assert faults[FaultKind.CONFLICTING_DUPLICATE] == sum(len(j.conflicts) for j in result.journeys)
    assert result.summary.complete
    assert result.summary.faults[FaultKind.DUPLICATE.value] == faults[FaultKind.DUPLICATE]
    assert result.summary.events == len(deliveries)


def test_faults_do_what_they_say() -> None:
    result = simulate(SimulationConfig(seed=22, consignments=80, faults=RATES))
    deliveries = list(result.deliveries)
    by_id = defaultdict(list)
    for d in deliveries:
        by_id[d.event.event_id].append(d)
    for d in deliveries:
        event = d.event
        if d.fault is FaultKind.DUPLICATE:
            assert any(
                o.event == event and o.fault is not FaultKind.DUPLICATE
                for o in by_id[event.event_id]
            )
        elif d.fault is FaultKind.CONFLICTING_DUPLICATE:
            others = [o.event for o in by_id[event.event_id] if o is not d]
            assert others
            assert all(o.fingerprint() != event.fingerprint() for o in others)
            assert event.event_type.value in ("declaration.submitted", "seals.checked")
        elif d.fault is FaultKind.LATE:
            assert d.deliver_ts - event.occurred_at.timestamp() >= 2 * 3600
    assert [d.deliver_ts for d in deliveries] == sorted(d.deliver_ts for d in deliveries)


def test_out_of_order_events_arrive_after_a_later_event() -> None:
    result = simulate(
        SimulationConfig(seed=23, consignments=60, faults=FaultRates(out_of_order=0.1))
    )
    seen_latest: dict[str, float] = {}
    overtaken = 0
    for d in result.deliveries:
        at = d.event.occurred_at.timestamp()
        if d.fault is FaultKind.OUT_OF_ORDER:
            overtaken += seen_latest.get(d.consignment_id, 0) > at
        seen_latest[d.consignment_id] = max(seen_latest.get(d.consignment_id, 0), at)
    assert overtaken > 100


def test_a_clean_run_delivers_each_consignment_in_order_once() -> None:
    result = simulate(SimulationConfig(seed=24, consignments=60))
    last: dict[str, tuple[float, int]] = {}
    ids = set()
    for d in result.deliveries:
        assert d.fault is None
        assert d.event.event_id not in ids
        ids.add(d.event.event_id)
        key = (d.event.occurred_at.timestamp(), 0)
        assert last.get(d.consignment_id, (0, 0)) <= key
        last[d.consignment_id] = key
    assert result.invalid_payloads == []
    assert not result.summary.faults


SOURCES = FaultRates(late_declaration=0.3, batching_port="AZ-ALAT", replayed_day=9)
DAY = 86400


def source_run() -> list[Delivery]:
    result = simulate(SimulationConfig(seed=23, consignments=120, days=20, faults=SOURCES))
    return list(result.deliveries)


def test_a_batching_port_delivers_each_day_at_the_next_midnight() -> None:
    batched = [d for d in source_run() if d.fault is FaultKind.MIDNIGHT_BATCH]
    assert batched
    for d in batched:
        assert d.event.location == "AZ-ALAT"
        assert d.deliver_ts % DAY == 0
        assert d.deliver_ts - DAY < d.event.occurred_at.timestamp() < d.deliver_ts


def test_a_replayed_day_is_the_whole_day_again_a_day_later() -> None:
    deliveries = source_run()
    start = int(SimulationConfig().start.timestamp()) + 9 * DAY
    day = [d for d in deliveries if start <= d.deliver_ts < start + DAY]
    again = [d for d in deliveries if d.fault is FaultKind.REPLAYED_DAY]
    assert day
    assert sorted(d.json() for d in again) == sorted(d.json() for d in day)
    assert {d.deliver_ts - DAY for d in again} == {d.deliver_ts for d in day}


def test_a_late_declaration_arrives_after_the_first_gate_report() -> None:
    deliveries = source_run()
    first_gate: dict[str, int] = {}
    for d in deliveries:
        if d.event.source.system.value in ("gate", "port"):
            first_gate.setdefault(d.consignment_id, d.deliver_ts)
    late = [d for d in deliveries if d.fault is FaultKind.LATE_DECLARATION]
    assert late
    for d in late:
        assert d.event.event_type.value.startswith("declaration.")
        assert d.deliver_ts > first_gate[d.consignment_id]
