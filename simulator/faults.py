"""Delivery: when each event reaches the tracker, and the faults on the way.

A clean delivery follows the event by a source-specific latency and keeps each
consignment's events in order. Faults then duplicate, reorder, delay, drop (decided
earlier, see `journeys.plan_faults`) or contradict events; invalid payloads are
separate raw dicts that break the contract on purpose.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from corridor.events import DEPARTURE_TYPES, EventType, SourceSystem
from corridor.reference import CorridorReference
from simulator.config import FaultRates
from simulator.emit import EventFactory, PlannedEvent, conflict_index, plan_events
from simulator.journeys import Journey

HOUR = 3600
DAY = 86400
_DECLARATION_TYPES = frozenset(
    {
        EventType.DECLARATION_SUBMITTED,
        EventType.DECLARATION_ACCEPTED,
        EventType.DECLARATION_REJECTED,
    }
)
_LATENCY = {  # seconds from the fact to its delivery, by reporting system
    SourceSystem.GATE: (5, 60),
    SourceSystem.PORT: (5, 60),
    SourceSystem.EPERMIT: (10, 300),
    SourceSystem.ETIR: (30, 600),
    SourceSystem.NCTS: (30, 600),
}


class FaultKind(StrEnum):
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    LATE = "late"
    MISSING_DEPARTURE = "missing_departure"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    INVALID_PAYLOAD = "invalid_payload"
    LATE_DECLARATION = "late_declaration"
    MIDNIGHT_BATCH = "midnight_batch"
    REPLAYED_DAY = "replayed_day"
    SILENT_ARRIVAL = "silent_arrival"


class InvalidKind(StrEnum):
    MISSING_TIMEZONE = "missing_timezone"
    UNKNOWN_LOCATION = "unknown_location"
    BAD_CHECK_DIGIT = "bad_check_digit"
    UNKNOWN_EVENT_TYPE = "unknown_event_type"


UNKNOWN_LOCATION = "ZZ-UNKNOWN-GATE"
UNKNOWN_EVENT_TYPE = "gate.teleported"


@dataclass(frozen=True, slots=True)
class Scheduled:
    """One delivery of one planned event (a version of it, if `shift` is set)."""

    deliver_ts: int
    index: int  # into the journey's plan
    fault: FaultKind | None = None
    shift: int = 0  # seconds added to occurred_at: a conflicting version


@dataclass(frozen=True, slots=True)
class InvalidPayload:
    """A raw JSON object that breaks the event contract, for negative tests."""

    payload: dict[str, Any]
    defect: InvalidKind
    consignment_id: str
    deliver_ts: int

    @property
    def deliver_at(self) -> datetime:
        return datetime.fromtimestamp(self.deliver_ts, UTC)


def visible_indices(journey: Journey, plan: list[PlannedEvent], end: int) -> list[int]:
    """What the window lets through: reported as happening by `end`, and neither a dropped
    departure nor an arrival the silent gate kept to itself."""
    dropped, silenced = journey.dropped_departures, journey.silenced_arrivals
    return [
        i
        for i, p in enumerate(plan)
        if p.at <= end
        and not (p.event_type in DEPARTURE_TYPES and p.stay in dropped)
        and not (p.event_type is EventType.GATE_ARRIVED and p.stay in silenced)
    ]


def schedule_deliveries(
    journey: Journey, plan: list[PlannedEvent], end: int, rates: FaultRates, start: int = 0
) -> list[Scheduled]:
    """When each visible event is delivered, faults included; `start` is the window's
    (a replayed day counts from it)."""
    rng = random.Random(journey.delivery_seed)
    shown = visible_indices(journey, plan, end)
    clean: list[int] = []
    previous = 0
    for i in shown:
        low, high = _LATENCY[plan[i].source.system]
        previous = max(plan[i].at + rng.randint(low, high), previous)
        clean.append(previous)
    out: list[Scheduled] = []
    last = len(shown) - 1
    for position, i in enumerate(shown):
        u, resend = rng.random(), rng.random()
        when, fault = clean[position], None
        if u < rates.late:
            when = max(when, plan[i].at + int(rng.uniform(2, 12) * HOUR))
            fault = FaultKind.LATE
        elif u < rates.late + rates.out_of_order and position < last:
            overtaken = min(position + rng.randint(1, rates.out_of_order_window), last)
            when, fault = clean[overtaken] + rng.randint(1, 60), FaultKind.OUT_OF_ORDER
        out.append(Scheduled(when, i, fault))
        if resend < rates.duplicate:
            out.append(Scheduled(when + rng.randint(60, 2 * HOUR), i, FaultKind.DUPLICATE))
    for conflict in journey.conflicts:
        i = conflict_index(journey, plan, conflict.stay)
        when = clean[shown.index(i)] + rng.randint(60, HOUR)
        out.append(Scheduled(when, i, FaultKind.CONFLICTING_DUPLICATE, conflict.shift))
    return _misbehaving_sources(plan, out, rates, rng, start)


def _misbehaving_sources(
    plan: list[PlannedEvent],
    scheduled: list[Scheduled],
    rates: FaultRates,
    rng: random.Random,
    start: int,
) -> list[Scheduled]:
    """Whole-source faults: a late customs export, a port batching its day, a day re-sent.
    Only delivery times change, so the truth does not."""
    first_gate = min(
        (s.deliver_ts for s in scheduled if plan[s.index].stay is not None), default=None
    )
    late = first_gate is not None and rng.random() < rates.late_declaration
    out: list[Scheduled] = []
    for s in scheduled:
        planned = plan[s.index]
        if late and planned.event_type in _DECLARATION_TYPES and first_gate is not None:
            s = Scheduled(
                first_gate + rng.randint(60, 6 * HOUR), s.index, FaultKind.LATE_DECLARATION, s.shift
            )
        elif planned.location == rates.batching_port and planned.source.system is SourceSystem.PORT:
            midnight = (max(s.deliver_ts, planned.at) // DAY + 1) * DAY
            s = Scheduled(midnight, s.index, FaultKind.MIDNIGHT_BATCH, s.shift)
        out.append(s)
    if rates.replayed_day is not None:
        day = range(start + rates.replayed_day * DAY, start + (rates.replayed_day + 1) * DAY)
        out += [
            Scheduled(s.deliver_ts + DAY, s.index, FaultKind.REPLAYED_DAY, s.shift)
            for s in out
            if s.deliver_ts in day
        ]
    return out


def invalid_payloads(
    journeys: list[Journey], reference: CorridorReference, factory: EventFactory
) -> list[InvalidPayload]:
    found: list[InvalidPayload] = []
    for journey in journeys:
        if not journey.invalid_seeds:
            continue
        plan = plan_events(journey, reference)
        for stay, seed in journey.invalid_seeds:
            found.append(_corrupt(journey, plan, stay, random.Random(seed), factory))
    found.sort(key=lambda p: (p.deliver_ts, p.consignment_id))
    return found


def _corrupt(
    journey: Journey,
    plan: list[PlannedEvent],
    stay: int | None,
    rng: random.Random,
    factory: EventFactory,
) -> InvalidPayload:
    wanted = EventType.DECLARATION_SUBMITTED if stay is None else None
    index = next(
        i
        for i, p in enumerate(plan)
        if p.stay == stay and (wanted is None or p.event_type is wanted)
    )
    base = plan[index]
    payload = factory.build(journey, index, base).model_dump(mode="json")
    payload["event_id"] = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    defect = rng.choice(list(InvalidKind))
    if defect is InvalidKind.MISSING_TIMEZONE:
        payload["occurred_at"] = datetime.fromtimestamp(base.at, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    elif defect is InvalidKind.UNKNOWN_LOCATION:
        payload["location"] = UNKNOWN_LOCATION
    elif defect is InvalidKind.BAD_CHECK_DIGIT:
        mrn = payload["references"]["mrn"]
        payload["references"]["mrn"] = mrn[:-1] + str((int(mrn[-1]) + rng.randint(1, 9)) % 10)
    else:
        payload["event_type"] = UNKNOWN_EVENT_TYPE
    return InvalidPayload(payload, defect, journey.consignment_id, base.at + rng.randint(5, 600))
