"""The consignment's state machine, with the guards the eTIR error codes imply.

Events are facts: a guard that fails records an `INVALID_TRANSITION` anomaly and the
event stays on the timeline. Only cancellations and permit revocations that come too
late are not applied, because the movement they would undo has already happened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from corridor.anomalies import anomaly_at
from corridor.events import DEPARTURE_TYPES, EventType, TransitEvent
from corridor.model import Anomaly, AnomalyKind, ConsignmentState, Stay, StayStatus
from corridor.reference import CorridorReference, Route

State = ConsignmentState


@dataclass(frozen=True, slots=True)
class Status:
    state: ConsignmentState
    current_location: str | None
    anomalies: tuple[Anomaly, ...]


@dataclass(slots=True)
class _Progress:
    """What the events read so far say about the consignment."""

    reference: CorridorReference
    final_location: str | None  # last location of the declared route
    declaration: ConsignmentState = State.ANNOUNCED  # ANNOUNCED, DECLARED or REJECTED
    accepted: bool = False
    moving: bool = False
    last_departed_from: str | None = None
    cancelled: bool = False
    completed_by: TransitEvent | None = None
    started_at: set[str] = field(default_factory=set)
    terminated_at: set[str] = field(default_factory=set)
    discharged_at: set[str] = field(default_factory=set)
    permits_used: set[str | None] = field(default_factory=set)
    anomalies: list[Anomaly] = field(default_factory=list)

    def invalid(self, event: TransitEvent, detail: str) -> None:
        self.anomalies.append(anomaly_at(event, AnomalyKind.INVALID_TRANSITION, detail))

    def complete(self, event: TransitEvent) -> None:
        self.completed_by = self.completed_by or event


def _accepted(p: _Progress, event: TransitEvent) -> None:
    p.accepted = True
    p.declaration = State.DECLARED


def _rejected(p: _Progress, event: TransitEvent) -> None:
    # Once goods move, a rejection can only concern an amendment, not the declaration.
    if not p.moving:
        p.accepted = False
        p.declaration = State.REJECTED


def _started(p: _Progress, event: TransitEvent) -> None:
    if p.cancelled:
        p.invalid(event, "operation started after the consignment was cancelled")
    elif not p.accepted:
        p.invalid(event, "operation started without an accepted declaration (eTIR error 220)")
    _once(p, p.started_at, event, "started")
    p.moving = True


def _terminated(p: _Progress, event: TransitEvent) -> None:
    _needs_start(p, event, "terminated")
    _once(p, p.terminated_at, event, "terminated")


def _discharged(p: _Progress, event: TransitEvent) -> None:
    _needs_start(p, event, "discharged")
    _once(p, p.discharged_at, event, "discharged")
    final = p.final_location
    if final is not None and _country(event.location, p.reference) == _country(final, p.reference):
        p.complete(event)


def _needs_start(p: _Progress, event: TransitEvent, what: str) -> None:
    if not p.started_at:
        p.invalid(event, f"operation {what} before any operation started (eTIR error 213)")


def _once(p: _Progress, seen: set[str], event: TransitEvent, what: str) -> None:
    if event.location in seen:
        p.invalid(event, f"operation {what} again at {event.location} (eTIR errors 210-212)")
    seen.add(event.location)


def _departed(p: _Progress, event: TransitEvent) -> None:
    p.moving = True
    p.last_departed_from = event.location
    if event.location == p.final_location:
        p.complete(event)


def _cancelled(p: _Progress, event: TransitEvent) -> None:
    if p.started_at or p.permits_used or p.completed_by:
        p.invalid(event, "cancelled after the operation started or a permit was used; not applied")
    else:
        p.cancelled = True


def _permit_used(p: _Progress, event: TransitEvent) -> None:
    p.permits_used.add(event.references.permit_id)


def _permit_revoked(p: _Progress, event: TransitEvent) -> None:
    # A valid revocation changes nothing here: the carrier may travel on another permit.
    if event.references.permit_id in p.permits_used:
        p.invalid(event, "permit revoked after it was used; not applied")


_HANDLERS: dict[EventType, Callable[[_Progress, TransitEvent], None]] = {
    EventType.DECLARATION_ACCEPTED: _accepted,
    EventType.DECLARATION_REJECTED: _rejected,
    EventType.OPERATION_STARTED: _started,
    EventType.OPERATION_TERMINATED: _terminated,
    EventType.OPERATION_DISCHARGED: _discharged,
    EventType.GOODS_RELEASED: lambda p, event: p.complete(event),
    EventType.CONSIGNMENT_CANCELLED: _cancelled,
    EventType.PERMIT_USED: _permit_used,
    EventType.PERMIT_REVOKED: _permit_revoked,
    **{departure: _departed for departure in DEPARTURE_TYPES},
}


def derive_status(
    events: Sequence[TransitEvent],
    stays: Sequence[Stay],
    route: Route | None,
    reference: CorridorReference,
) -> Status:
    """Run the ordered events through the state machine."""
    progress = _Progress(reference, final_location=route.locations[-1] if route else None)
    for event in events:
        handler = _HANDLERS.get(event.event_type)
        if handler is not None:
            handler(progress, event)
    state = _state(progress, stays)
    return Status(state, _current_location(state, progress, stays), tuple(progress.anomalies))


def _country(code: str, reference: CorridorReference) -> str:
    # Location codes start with the country (`KZ-AKTAU`); the reference data confirms it.
    return reference.location(code).country if reference.has_location(code) else code[:2]


def _state(p: _Progress, stays: Sequence[Stay]) -> ConsignmentState:
    if p.cancelled:
        return State.CANCELLED
    if p.completed_by is not None:
        return State.COMPLETED
    if stays and stays[-1].status is StayStatus.IN_PROGRESS:
        return State.AT_LOCATION
    return State.IN_TRANSIT if p.moving else p.declaration


def _current_location(state: State, p: _Progress, stays: Sequence[Stay]) -> str | None:
    """Where the consignment is, or was last seen; IN_TRANSIT gives the last departure."""
    if state is State.AT_LOCATION or state is State.CANCELLED:
        return stays[-1].location if stays else None
    if state is State.COMPLETED and p.completed_by is not None:
        return p.completed_by.location
    return p.last_departed_from if state is State.IN_TRANSIT else None
