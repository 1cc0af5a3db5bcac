"""Build one consignment's timeline from its events, whatever order they arrived in.

The result depends only on the set of distinct events: re-sends collapse, conflicting
versions of one `event_id` resolve to the same version every time, and everything is
derived from the events sorted by `TransitEvent.sort_key`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from uuid import UUID

from corridor.anomalies import anomaly_at, expired_permit_uses, off_route, seal_changes
from corridor.errors import InvalidEvent
from corridor.events import CARRIER_NOT_NAMED, TransitEvent
from corridor.journey import Anomaly, AnomalyKind, Timeline
from corridor.lifecycle import derive_status
from corridor.movements import derive_crossings, derive_legs
from corridor.ownership import consignment_identity, declared_route_id
from corridor.reference import CorridorReference
from corridor.stays import derive_stays


def build_timeline(events: Iterable[TransitEvent], reference: CorridorReference) -> Timeline:
    """Everything the rules derive from one consignment's events; pure and deterministic."""
    received = tuple(events)
    consignment_id = _single_consignment(received)
    kept, conflicts = deduplicate(received)
    ordered = tuple(sorted(kept, key=lambda event: event.sort_key))
    identity, identity_conflicts = consignment_identity(ordered)
    route_id = declared_route_id(ordered)
    route = reference.routes_by_id.get(route_id) if route_id else None
    stays, departure_anomalies = derive_stays(ordered)
    status = derive_status(ordered, stays, route, reference)
    anomalies = [
        *conflicts,
        *identity_conflicts,
        *departure_anomalies,
        *status.anomalies,
        *off_route(ordered, route),
        *seal_changes(ordered),
        *expired_permit_uses(ordered),
    ]
    return Timeline(
        consignment_id=consignment_id,
        carrier_id=identity.carrier_id or CARRIER_NOT_NAMED,
        state=status.state,
        current_location=status.current_location,
        last_event_at=max(event.occurred_at for event in ordered),
        route_id=route_id,
        events=ordered,
        stays=stays,
        crossings=derive_crossings(stays, reference),
        legs=derive_legs(stays, reference, route),
        anomalies=tuple(sorted(anomalies, key=_anomaly_order)),
    )


def _single_consignment(events: Sequence[TransitEvent]) -> str:
    ids = sorted({event.consignment_id for event in events})
    if not ids:
        raise InvalidEvent("events", "a timeline needs at least one event")
    if len(ids) > 1:
        raise InvalidEvent("consignment_id", f"events of several consignments: {', '.join(ids)}")
    return ids[0]


def deduplicate(events: Iterable[TransitEvent]) -> tuple[list[TransitEvent], list[Anomaly]]:
    """One event per `event_id`; of conflicting versions keep the smallest fingerprint."""
    versions: dict[UUID, dict[str, TransitEvent]] = defaultdict(dict)
    for event in events:
        versions[event.event_id][event.fingerprint()] = event
    kept: list[TransitEvent] = []
    conflicts: list[Anomaly] = []
    for by_fingerprint in versions.values():
        chosen = by_fingerprint[min(by_fingerprint)]
        kept.append(chosen)
        if len(by_fingerprint) > 1:
            detail = f"{len(by_fingerprint)} different versions of this event; kept one"
            conflicts.append(anomaly_at(chosen, AnomalyKind.CONFLICTING_DUPLICATE, detail))
    return kept, conflicts


def _anomaly_order(anomaly: Anomaly) -> tuple[object, ...]:
    return (anomaly.occurred_at, anomaly.event_id, anomaly.kind.value, anomaly.detail)
