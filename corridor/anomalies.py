"""Anomalies read off the ordered events: off-route visits, seal changes, expired permits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from corridor.events import EventType, TransitEvent
from corridor.journey import Anomaly, AnomalyKind
from corridor.reference import Route

# Offices, not the road: declarations, permits and cancellations are lodged wherever the
# authority sits, so their location says nothing about the route travelled.
ADMINISTRATIVE_TYPES = frozenset(
    {
        EventType.DECLARATION_SUBMITTED,
        EventType.DECLARATION_ACCEPTED,
        EventType.DECLARATION_REJECTED,
        EventType.PERMIT_ISSUED,
        EventType.PERMIT_REVOKED,
        EventType.CONSIGNMENT_CANCELLED,
    }
)


def anomaly_at(event: TransitEvent, kind: AnomalyKind, detail: str) -> Anomaly:
    return Anomaly(
        consignment_id=event.consignment_id,
        kind=kind,
        event_id=str(event.event_id),
        location=event.location,
        occurred_at=event.occurred_at,
        detail=detail,
    )


def off_route(events: Sequence[TransitEvent], route: Route | None) -> list[Anomaly]:
    """One anomaly per location off the declared route, at the first event seen there."""
    if route is None:
        return []
    on_route = set(route.locations)
    reported: set[str] = set()
    anomalies: list[Anomaly] = []
    for event in events:
        if event.event_type in ADMINISTRATIVE_TYPES or event.location in on_route:
            continue
        if event.location not in reported:
            reported.add(event.location)
            detail = f"{event.location} is not on declared route {route.id}"
            anomalies.append(anomaly_at(event, AnomalyKind.OFF_ROUTE, detail))
    return anomalies


def seal_changes(events: Sequence[TransitEvent]) -> list[Anomaly]:
    """Compare each seal set with the previous one seen, whichever events carried them."""
    sealed = [event for event in events if event.attributes.seals is not None]
    anomalies: list[Anomaly] = []
    for before, after in pairwise(sealed):
        old, new = _seal_set(before), _seal_set(after)
        if old != new:
            detail = f"seals {sorted(old)} at {before.location} became {sorted(new)}"
            anomalies.append(anomaly_at(after, AnomalyKind.SEAL_CHANGED, detail))
    return anomalies


def _seal_set(event: TransitEvent) -> frozenset[str]:
    return frozenset(event.attributes.seals or ())


def expired_permit_uses(events: Sequence[TransitEvent]) -> list[Anomaly]:
    """A permit used after it expired; e-Permit has no expiry event, only `expiresAt`."""
    issued_expiry = _expiry_by_permit(events)
    anomalies: list[Anomaly] = []
    for event in events:
        if event.event_type is not EventType.PERMIT_USED:
            continue
        permit_id = event.references.permit_id
        expires_at = event.attributes.permit_expires_at or issued_expiry.get(permit_id)
        if expires_at is not None and event.occurred_at > expires_at:
            detail = f"permit {permit_id or '(no id)'} used after expiry {expires_at.isoformat()}"
            anomalies.append(anomaly_at(event, AnomalyKind.PERMIT_EXPIRED, detail))
    return anomalies


def _expiry_by_permit(events: Sequence[TransitEvent]) -> dict[str | None, datetime]:
    # The latest issuance wins: a re-issued permit carries the expiry that applies.
    return {
        event.references.permit_id: event.attributes.permit_expires_at
        for event in events
        if event.event_type is EventType.PERMIT_ISSUED and event.attributes.permit_expires_at
    }
