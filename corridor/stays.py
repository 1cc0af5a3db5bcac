"""Stays: a consignment's visits to locations, opened by an arrival, closed by a departure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from corridor.anomalies import anomaly_at
from corridor.events import ARRIVAL_TYPES, DEPARTURE_TYPES, EventType, TransitEvent
from corridor.model import Anomaly, AnomalyKind, Stay, StayStatus


@dataclass(slots=True)
class _Visit:
    """A stay being assembled while the ordered events are read."""

    arrival: TransitEvent
    visit: int
    released_at: datetime | None = None
    inspection_started_at: datetime | None = None
    inspection_completed_at: datetime | None = None
    departed_at: datetime | None = None

    def absorb(self, event: TransitEvent) -> None:
        at = event.occurred_at
        if event.event_type is EventType.GATE_RELEASED and self.released_at is None:
            self.released_at = at
        elif event.event_type is EventType.INSPECTION_STARTED:
            self.inspection_started_at = self.inspection_started_at or at
        elif event.event_type is EventType.INSPECTION_COMPLETED:
            self.inspection_completed_at = at

    def to_stay(self, status: StayStatus) -> Stay:
        return Stay(
            consignment_id=self.arrival.consignment_id,
            location=self.arrival.location,
            visit=self.visit,
            arrived_at=self.arrival.occurred_at,
            status=status,
            released_at=self.released_at,
            departed_at=self.departed_at,
            inspection_started_at=self.inspection_started_at,
            inspection_completed_at=self.inspection_completed_at,
        )


def derive_stays(events: Sequence[TransitEvent]) -> tuple[tuple[Stay, ...], list[Anomaly]]:
    """Stays in order of arrival, and the departures that had no visit to close."""
    visits: list[_Visit] = []
    open_at: dict[str, _Visit] = {}
    anomalies: list[Anomaly] = []
    for event in events:
        current = open_at.get(event.location)
        if event.event_type in ARRIVAL_TYPES and current is None:
            open_at[event.location] = _open(event, visits)
        elif event.event_type in DEPARTURE_TYPES:
            if current is None:
                detail = f"departed {event.location} without an open visit there"
                anomalies.append(anomaly_at(event, AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL, detail))
            else:
                current.departed_at = event.occurred_at
                del open_at[event.location]
        elif current is not None:
            current.absorb(event)
    arrivals = [event for event in events if event.event_type in ARRIVAL_TYPES]
    return tuple(visit.to_stay(_status(visit, arrivals)) for visit in visits), anomalies


def _open(arrival: TransitEvent, visits: list[_Visit]) -> _Visit:
    earlier = sum(1 for visit in visits if visit.arrival.location == arrival.location)
    visit = _Visit(arrival=arrival, visit=earlier + 1)
    visits.append(visit)
    return visit


def _status(visit: _Visit, arrivals: Sequence[TransitEvent]) -> StayStatus:
    if visit.departed_at is not None:
        return StayStatus.COMPLETED
    opened = visit.arrival.sort_key
    seen_further_on = any(
        arrival.sort_key > opened and arrival.location != visit.arrival.location
        for arrival in arrivals
    )
    return StayStatus.DEPARTURE_MISSING if seen_further_on else StayStatus.IN_PROGRESS
