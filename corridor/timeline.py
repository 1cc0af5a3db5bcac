"""Build one consignment's timeline from its events, whatever order they arrived in.

The result depends only on the set of distinct events: re-sends collapse, conflicting
versions of one `event_id` resolve to the same version every time, and everything is
derived from the events sorted by `TransitEvent.sort_key`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from operator import attrgetter
from uuid import UUID

from corridor.anomalies import anomaly_at, expired_permit_uses, off_route, seal_changes
from corridor.errors import InvalidEvent
from corridor.events import TransitEvent
from corridor.lifecycle import derive_status
from corridor.model import Anomaly, AnomalyKind, Timeline
from corridor.movements import derive_crossings, derive_legs
from corridor.ownership import consignment_identity, declared_route_id
from corridor.plausibility import screen
from corridor.reference import CorridorReference
from corridor.stays import derive_stays

_occurred_at = attrgetter("occurred_at")


def build_timeline(events: Iterable[TransitEvent], reference: CorridorReference) -> Timeline:
    """Everything the rules derive from one consignment's events; pure and deterministic."""
    received = tuple(events)
    consignment_id = single_consignment(received)
    kept, conflicts = deduplicate(received)
    ordered = tuple(sorted(kept, key=lambda event: event.sort_key))
    return derive_timeline(consignment_id, ordered, conflicts, reference)


def derive_timeline(
    consignment_id: str,
    ordered: tuple[TransitEvent, ...],
    conflicts: Sequence[Anomaly],
    reference: CorridorReference,
) -> Timeline:
    """The rules over one consignment's distinct events in timeline order (one version
    per `event_id`, as `deduplicate` keeps it) and the conflicts found among them. Both
    `build_timeline` and the incremental fold (`corridor.folding`) end here, so every
    rule has this one home."""
    identity, identity_conflicts = consignment_identity(ordered)
    route_id = declared_route_id(ordered)
    route = reference.routes_by_id.get(route_id) if route_id else None
    stays, departure_anomalies = derive_stays(ordered)
    status = derive_status(ordered, stays, route, reference)
    legs = derive_legs(stays, reference, route)
    screening = screen(ordered, stays, legs, reference)
    anomalies = [
        *conflicts,
        *identity_conflicts,
        *departure_anomalies,
        *status.anomalies,
        *off_route(ordered, route),
        *seal_changes(ordered),
        *expired_permit_uses(ordered),
        *screening.anomalies,
    ]
    return Timeline(
        consignment_id=consignment_id,
        carrier_id=identity.carrier_id,
        state=status.state,
        current_location=status.current_location,
        last_event_at=max(map(_occurred_at, ordered)),
        route_id=route_id,
        events=ordered,
        stays=stays,
        crossings=derive_crossings(stays, reference),
        legs=legs,
        anomalies=tuple(sorted(anomalies, key=_anomaly_order)),
        implausible_legs=screening.implausible_legs,
        implausible_stays=screening.implausible_stays,
    )


def single_consignment(events: Iterable[TransitEvent]) -> str:
    ids = sorted({event.consignment_id for event in events})
    if not ids:
        raise InvalidEvent("events", "a timeline needs at least one event")
    if len(ids) > 1:
        raise InvalidEvent("consignment_id", f"events of several consignments: {', '.join(ids)}")
    return ids[0]


def deduplicate(events: Iterable[TransitEvent]) -> tuple[list[TransitEvent], list[Anomaly]]:
    """One event per `event_id`; of conflicting versions keep the smallest fingerprint
    (`corridor.folding` applies the same rule one batch at a time)."""
    versions: dict[UUID, dict[str, TransitEvent]] = defaultdict(dict)
    for event in events:
        versions[event.event_id][event.fingerprint()] = event
    kept: list[TransitEvent] = []
    conflicts: list[Anomaly] = []
    for by_fingerprint in versions.values():
        chosen = by_fingerprint[min(by_fingerprint)]
        kept.append(chosen)
        if len(by_fingerprint) > 1:
            conflicts.append(conflicting_versions(chosen, len(by_fingerprint)))
    return kept, conflicts


def conflicting_versions(chosen: TransitEvent, versions: int) -> Anomaly:
    detail = f"{versions} different versions of this event; kept one"
    return anomaly_at(chosen, AnomalyKind.CONFLICTING_DUPLICATE, detail)


def _anomaly_order(anomaly: Anomaly) -> tuple[object, ...]:
    return (anomaly.occurred_at, anomaly.event_id, anomaly.kind.value, anomaly.detail)
