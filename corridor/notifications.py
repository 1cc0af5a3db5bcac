"""What a carrier's webhook endpoint is told about a consignment: the changes it asked for.

Each endpoint remembers what it was last told about each consignment (its state, its
location, the ETA it was last sent). A new word on the consignment becomes one
notification per kind of change the endpoint subscribed to: the state changed, it is at
(or left for) another location, or its expected arrival moved by more than the
endpoint's threshold since the ETA last sent — small drifts add up until they cross it.
The first word on a consignment counts as a change of state and location.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class ChangeKind(StrEnum):
    STATE = "state"
    LOCATION = "location"
    ETA = "eta"
    ALERT = "alert"


EVENT_TYPES: dict[ChangeKind, str] = {
    ChangeKind.STATE: "consignment.state_changed",
    ChangeKind.LOCATION: "consignment.location_changed",
    ChangeKind.ETA: "consignment.eta_changed",
    ChangeKind.ALERT: "alert.raised",
}


@dataclass(frozen=True, slots=True)
class Notified:
    """What an endpoint knows of a consignment."""

    state: str | None
    location: str | None
    eta_p50: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    changes: tuple[ChangeKind, ...]
    notified: Notified
    """What the endpoint will know once they are delivered."""


def decide(
    previous: Notified | None,
    current: Notified,
    kinds: frozenset[ChangeKind],
    eta_threshold: timedelta,
) -> Decision:
    before = previous or Notified(None, None, None)
    changes: list[ChangeKind] = []
    if ChangeKind.STATE in kinds and current.state != before.state:
        changes.append(ChangeKind.STATE)
    if ChangeKind.LOCATION in kinds and current.location != before.location:
        changes.append(ChangeKind.LOCATION)
    eta_sent = before.eta_p50
    if current.eta_p50 is not None and (
        eta_sent is None or abs(current.eta_p50 - eta_sent) > eta_threshold
    ):
        if ChangeKind.ETA in kinds:
            changes.append(ChangeKind.ETA)
        eta_sent = current.eta_p50
    return Decision(tuple(changes), Notified(current.state, current.location, eta_sent))
