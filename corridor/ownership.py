"""Whose a consignment is: fixed by the first authoritative claim, never by the last event.

The carrier decides who may see a consignment, so it is fixed by a declaration naming
one, else by the first event (in timeline order) naming one. A later event naming another
carrier changes nothing: ingest refuses it when the consignment is already known
(`claim_conflicts`), and the timeline flags it as an anomaly, raising an alert, when the
conflict shows only later, the events having arrived together or out of order
(`consignment_identity`). An event that names no carrier makes no claim.

Other values a later event could overwrite are not fixed, on purpose: a journey can hold
several MRNs and permits (one per transit declaration or country pair), and an amended
declaration may change the route (`declared_route_id`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from itertools import chain

from corridor.events import CARRIER_NOT_NAMED, EventType, TransitEvent
from corridor.model import Anomaly, AnomalyKind

_DECLARATION_TYPES = frozenset(
    {
        EventType.DECLARATION_SUBMITTED,
        EventType.DECLARATION_ACCEPTED,
        EventType.DECLARATION_REJECTED,
    }
)
# A rejected declaration declares nothing, so only these name the route.
_ROUTE_DECLARING_TYPES = frozenset(
    {EventType.DECLARATION_SUBMITTED, EventType.DECLARATION_ACCEPTED}
)
_SEPARATORS = re.compile(r"[\s-]+")


@dataclass(frozen=True, slots=True)
class ConsignmentIdentity:
    """The values that say whose a consignment is and what finds it; None: not claimed."""

    carrier_id: str | None = None


# Field name (as in the event contract) and how an event claims it.
_CLAIMS: tuple[tuple[str, str, Callable[[TransitEvent], str | None]], ...] = (
    ("carrier_id", "carrier_id", lambda e: claimed_carrier(e.carrier_id)),
)
# `consignment_identity` skips events by their carrier alone: another claim needs a test.
assert [name for name, _, _ in _CLAIMS] == ["carrier_id"]


def declared_route_id(ordered: Sequence[TransitEvent]) -> str | None:
    """The route named by the latest declaration that names one.

    Unlike the fields above, a route may change: an amended declaration is the customs
    authority's own act, and only declaration events name a route at all.
    """
    for event in reversed(ordered):
        if event.event_type in _ROUTE_DECLARING_TYPES and event.attributes.route_id:
            return event.attributes.route_id
    return None


def claimed_carrier(carrier_id: str | None) -> str | None:
    """The carrier a value claims; None for a message that names none."""
    return None if not carrier_id or carrier_id == CARRIER_NOT_NAMED else carrier_id


def same_identifier(a: str, b: str) -> bool:
    """Equal up to case, spaces and dashes: how the stored references are normalised."""
    return _SEPARATORS.sub("", a).upper() == _SEPARATORS.sub("", b).upper()


def consignment_identity(
    ordered: Sequence[TransitEvent],
) -> tuple[ConsignmentIdentity, list[Anomaly]]:
    """The first claim of each identity field, and one anomaly per event contradicting it.

    `ordered` is the consignment's events in timeline order.
    """
    identity = ConsignmentIdentity()
    for name, _, claim in _CLAIMS:
        events = _carrier_claimants(ordered) if name == "carrier_id" else ordered
        first = next((value for event in events if (value := claim(event))), None)
        identity = replace(identity, **{name: first})
    # Most events name the carrier exactly as fixed, which cannot conflict: a string
    # comparison spares them the normalisation `claim_conflicts` needs for the rest (the
    # timeline is derived again at every batch that touches the consignment).
    fixed_carrier = identity.carrier_id
    anomalies = [
        Anomaly(
            consignment_id=event.consignment_id,
            kind=AnomalyKind.IDENTITY_CONFLICT,
            event_id=str(event.event_id),
            location=event.location,
            occurred_at=event.occurred_at,
            detail=f"{field}: {rule}",
        )
        for event in ordered
        if event.carrier_id != fixed_carrier
        for field, rule in claim_conflicts(identity, event)
    ]
    return identity, anomalies


def _carrier_claimants(ordered: Sequence[TransitEvent]) -> Iterable[TransitEvent]:
    """Declarations first (the authoritative fact), then every event in timeline order;
    lazily, as the first claim is usually among the first events."""
    declarations = (e for e in ordered if e.event_type in _DECLARATION_TYPES)
    return chain(declarations, ordered)


def claim_conflicts(known: ConsignmentIdentity, event: TransitEvent) -> list[tuple[str, str]]:
    """(field, rule) for each identity field `event` names differently from `known`."""
    conflicts = []
    for name, field, claim in _CLAIMS:
        fixed: str | None = getattr(known, name)
        value = claim(event)
        if fixed is not None and value is not None and not same_identifier(fixed, value):
            # The fixed value is not repeated: it is not the sender's to learn.
            conflicts.append((field, f"differs from the {name} the consignment is fixed to"))
    return conflicts
