"""`simulate(config)`: journeys, ground truth, and the delivery stream, generated lazily.

The stream is a k-way merge by delivery time: a consignment's events are planned only
when the stream reaches the moment its first event could be delivered, and dropped
once delivered, so memory follows the consignments in flight, not the run's size.
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from corridor.events import TransitEvent
from corridor.journey import StayStatus
from corridor.reference import CorridorReference, load_reference
from simulator.config import SimulationConfig
from simulator.emit import EventFactory, PlannedEvent, plan_events
from simulator.faults import (
    FaultKind,
    InvalidPayload,
    Scheduled,
    invalid_payloads,
    schedule_deliveries,
)
from simulator.journeys import Journey, simulate_journeys
from simulator.truth import GroundTruth, derive_truth


class Delivery:
    """One event as the tracker receives it, at a simulated delivery time.

    The `TransitEvent` is built on first access; `json()` writes the same JSON without
    building it, which is what keeps file generation fast.
    """

    __slots__ = (
        "_event",
        "_factory",
        "_journey",
        "_planned",
        "deliver_ts",
        "fault",
        "index",
        "shift",
    )

    def __init__(
        self,
        factory: EventFactory,
        journey: Journey,
        scheduled: Scheduled,
        planned: PlannedEvent,
    ) -> None:
        self._factory = factory
        self._journey = journey
        self._planned = planned
        self._event: TransitEvent | None = None
        self.index = scheduled.index
        self.shift = scheduled.shift
        self.deliver_ts = scheduled.deliver_ts
        self.fault = scheduled.fault

    @property
    def event(self) -> TransitEvent:
        if self._event is None:
            self._event = self._factory.build(self._journey, self.index, self._planned, self.shift)
        return self._event

    def json(self) -> str:
        if self._event is not None:
            return self._event.model_dump_json()
        return self._factory.json(self._journey, self.index, self._planned, self.shift)

    @property
    def consignment_id(self) -> str:
        return self._journey.consignment_id

    @property
    def deliver_at(self) -> datetime:
        return datetime.fromtimestamp(self.deliver_ts, UTC)

    def __repr__(self) -> str:
        return (
            f"Delivery({self._planned.event_type.value} of {self.consignment_id} "
            f"at {self.deliver_at.isoformat()}, fault={self.fault})"
        )


@dataclass(slots=True)
class Summary:
    """Counts for the end-of-run report; event and fault counts fill in as deliveries stream."""

    consignments: int
    states: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)  # journey kinds
    median_dwell_hours: dict[str, float] = field(default_factory=dict)
    events: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    complete: bool = False  # True once the delivery stream has been exhausted

    def to_dict(self) -> dict[str, Any]:
        return {
            "consignments": self.consignments,
            "events": self.events,
            "faults": dict(sorted(self.faults.items())),
            "states": dict(sorted(self.states.items())),
            "journey_kinds": dict(sorted(self.kinds.items())),
            "median_dwell_hours": self.median_dwell_hours,
            "complete": self.complete,
        }

    def render(self) -> str:
        lines = [
            f"consignments: {self.consignments}",
            f"events delivered: {self.events}",
            "faults injected: "
            + (", ".join(f"{k}={v}" for k, v in sorted(self.faults.items())) or "none"),
            "final states: " + ", ".join(f"{k}={v}" for k, v in sorted(self.states.items())),
            "journey kinds: " + ", ".join(f"{k}={v}" for k, v in sorted(self.kinds.items())),
            "median dwell (h) of completed stays:",
        ]
        lines += [f"  {loc:<22} {hours:7.1f}" for loc, hours in self.median_dwell_hours.items()]
        return "\n".join(lines)


class SimulationResult:
    """Journeys and invalid payloads now; truth on first access; deliveries as iterated."""

    def __init__(
        self,
        config: SimulationConfig,
        journeys: list[Journey],
        reference: CorridorReference,
        factory: EventFactory,
        invalid_payloads: list[InvalidPayload],
        summary: Summary,
    ) -> None:
        self.config = config
        self.journeys = journeys
        self.invalid_payloads = invalid_payloads
        self._reference = reference
        self._factory = factory
        self._summary = summary
        self.deliveries: Iterator[Delivery] = iter(
            _Stream(config, journeys, reference, factory, summary)
        )

    @cached_property
    def truth(self) -> GroundTruth:
        config = self.config
        return derive_truth(self.journeys, self._reference, config.start, config.end, self._factory)

    @property
    def summary(self) -> Summary:
        """Final once `deliveries` is exhausted (`summary.complete`)."""
        if not self._summary.states:
            truth = self.truth
            self._summary.states.update(c.state.value for c in truth.consignments.values())
            self._summary.kinds.update(c.kind.value for c in truth.consignments.values())
            order = [location.code for location in self._reference.locations]
            self._summary.median_dwell_hours.update(_median_dwell(truth, order))
        return self._summary


def _median_dwell(truth: GroundTruth, order: list[str]) -> dict[str, float]:
    dwell: dict[str, list[int]] = {}
    for consignment in truth.consignments.values():
        for stay in consignment.stays:
            if stay.status is StayStatus.COMPLETED and stay.dwell_seconds is not None:
                dwell.setdefault(stay.location, []).append(stay.dwell_seconds)
    return {loc: round(statistics.median(dwell[loc]) / 3600, 2) for loc in order if loc in dwell}


class _Stream:
    """Merges every journey's scheduled deliveries in delivery-time order."""

    def __init__(
        self,
        config: SimulationConfig,
        journeys: list[Journey],
        reference: CorridorReference,
        factory: EventFactory,
        summary: Summary,
    ) -> None:
        self.config = config
        self.order = sorted(journeys, key=lambda j: (j.first_moment, j.index))
        self.reference = reference
        self.factory = factory
        self.summary = summary
        self.start = int(config.start.timestamp())
        self.end = int(config.end.timestamp())

    def __iter__(self) -> Iterator[Delivery]:
        heap: list[tuple[int, int, Journey, list[PlannedEvent], Scheduled]] = []
        seq = 0
        pending = ((j.first_moment, j) for j in self.order)
        upcoming = next(pending, None)
        rates, factory, summary = self.config.faults, self.factory, self.summary
        conflict = FaultKind.CONFLICTING_DUPLICATE  # counted up front, with the truth
        while upcoming is not None or heap:
            # Nothing of a journey is delivered before its first moment: plan it only then.
            while upcoming is not None and (not heap or upcoming[0] <= heap[0][0]):
                journey = upcoming[1]
                plan = plan_events(journey, self.reference)
                for scheduled in schedule_deliveries(journey, plan, self.end, rates, self.start):
                    seq += 1
                    heapq.heappush(heap, (scheduled.deliver_ts, seq, journey, plan, scheduled))
                upcoming = next(pending, None)
            if not heap:
                continue
            _, _, journey, plan, scheduled = heapq.heappop(heap)
            summary.events += 1
            if scheduled.fault is not None and scheduled.fault is not conflict:
                summary.faults[scheduled.fault.value] += 1
            yield Delivery(factory, journey, scheduled, plan[scheduled.index])
        summary.complete = True


def simulate(
    config: SimulationConfig, reference: CorridorReference | None = None
) -> SimulationResult:
    """Run the journeys now; the truth is derived on first use, deliveries as iterated."""
    reference = reference or load_reference()
    journeys = simulate_journeys(config, reference)
    factory = EventFactory(config.seed)
    invalid = invalid_payloads(journeys, reference, factory)
    summary = Summary(consignments=len(journeys))
    dropped = sum(len(j.dropped_departures) for j in journeys)
    conflicts = sum(len(j.conflicts) for j in journeys)
    silenced = sum(len(j.silenced_arrivals) for j in journeys)
    for kind, count in (
        (FaultKind.MISSING_DEPARTURE, dropped),
        (FaultKind.SILENT_ARRIVAL, silenced),
        (FaultKind.CONFLICTING_DUPLICATE, conflicts),
        (FaultKind.INVALID_PAYLOAD, len(invalid)),
    ):
        if count:
            summary.faults[kind.value] = count
    return SimulationResult(config, journeys, reference, factory, invalid, summary)
