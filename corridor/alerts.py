"""Alert rules: which anomalies and overdue stays an operator should hear about.

Pure functions over timelines and stays. Each alert has a dedup key, so deriving
the same condition again (a replay, a late event) never raises it twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from corridor.model import Anomaly, AnomalyKind, Stay, StayStatus, Timeline


class AlertKind(StrEnum):
    OVERDUE_STAY = "overdue_stay"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    OFF_ROUTE = "off_route"
    SEAL_CHANGED = "seal_changed"
    PERMIT_EXPIRED = "permit_expired"
    DEPARTURE_WITHOUT_ARRIVAL = "departure_without_arrival"
    INVALID_TRANSITION = "invalid_transition"
    LEG_TOO_FAST = "leg_too_fast"
    NON_POSITIVE_DURATION = "non_positive_duration"
    UNCONNECTED_JUMP = "unconnected_jump"
    OUT_OF_SEQUENCE = "out_of_sequence"
    IDENTITY_CONFLICT = "identity_conflict"
    # Raised by the tracker, not the domain: a record it could not store (dead letter).
    DEAD_LETTER = "dead_letter"


_FROM_ANOMALY = {
    AnomalyKind.CONFLICTING_DUPLICATE: AlertKind.CONFLICTING_DUPLICATE,
    AnomalyKind.OFF_ROUTE: AlertKind.OFF_ROUTE,
    AnomalyKind.SEAL_CHANGED: AlertKind.SEAL_CHANGED,
    AnomalyKind.PERMIT_EXPIRED: AlertKind.PERMIT_EXPIRED,
    AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL: AlertKind.DEPARTURE_WITHOUT_ARRIVAL,
    AnomalyKind.INVALID_TRANSITION: AlertKind.INVALID_TRANSITION,
    AnomalyKind.LEG_TOO_FAST: AlertKind.LEG_TOO_FAST,
    AnomalyKind.NON_POSITIVE_DURATION: AlertKind.NON_POSITIVE_DURATION,
    AnomalyKind.UNCONNECTED_JUMP: AlertKind.UNCONNECTED_JUMP,
    AnomalyKind.OUT_OF_SEQUENCE: AlertKind.OUT_OF_SEQUENCE,
    AnomalyKind.IDENTITY_CONFLICT: AlertKind.IDENTITY_CONFLICT,
}


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    consignment_id: str
    carrier_id: str | None  # None: the consignment belongs to no carrier yet
    location: str
    occurred_at: datetime
    detail: str
    dedup_key: str


def alert_for_anomaly(anomaly: Anomaly, carrier_id: str | None) -> Alert:
    kind = _FROM_ANOMALY[anomaly.kind]
    return Alert(
        kind=kind,
        consignment_id=anomaly.consignment_id,
        carrier_id=carrier_id,
        location=anomaly.location,
        occurred_at=anomaly.occurred_at,
        detail=anomaly.detail,
        dedup_key=f"{kind.value}:{anomaly.consignment_id}:{anomaly.event_id}",
    )


def alerts_for_timeline(timeline: Timeline) -> list[Alert]:
    return [alert_for_anomaly(a, timeline.carrier_id) for a in timeline.anomalies]


# Kinds whose truth a consignment's timeline decides: when a late event rewrites the
# timeline, an open alert of these kinds that the timeline no longer supports is withdrawn.
# Dead letters are about a record, not a timeline, and are never withdrawn.
WITHDRAWABLE_KINDS = frozenset({*_FROM_ANOMALY.values(), AlertKind.OVERDUE_STAY})


def overdue_stay_key(stay: Stay) -> str:
    return f"overdue_stay:{stay.consignment_id}:{stay.location}:{stay.visit}"


def current_alert_keys(timeline: Timeline) -> frozenset[str]:
    """The dedup keys of a consignment's alerts that its timeline still supports.

    Its anomalies' alerts, and an overdue alert for each stay still in progress (whether
    the scan raised one is the scan's business; a stay that has departed supports none).
    """
    anomaly_keys = {alert.dedup_key for alert in alerts_for_timeline(timeline)}
    stay_keys = {
        overdue_stay_key(stay) for stay in timeline.stays if stay.status is StayStatus.IN_PROGRESS
    }
    return frozenset(anomaly_keys | stay_keys)


@dataclass(frozen=True, slots=True)
class OverduePolicy:
    """A stay is overdue past a fixed threshold, or past the location's recent p90."""

    threshold: timedelta
    # Use a location's p90 only once it rests on enough completed stays to mean something.
    min_p90_sample: int = 20

    def limit_for(self, location: str, recent_p90: Mapping[str, tuple[float, int]]) -> timedelta:
        p90_seconds, sample = recent_p90.get(location, (0.0, 0))
        if sample >= self.min_p90_sample and p90_seconds > 0:
            return min(self.threshold, timedelta(seconds=p90_seconds))
        return self.threshold


def overdue_alerts(
    open_stays: Iterable[tuple[Stay, str | None]],
    now: datetime,
    policy: OverduePolicy,
    recent_p90: Mapping[str, tuple[float, int]],
) -> list[Alert]:
    """Alerts for in-progress stays (with their carrier) that have outlasted their limit.

    `now` is passed in: during a replay it is the event-time watermark, not the clock.
    """
    alerts = []
    for stay, carrier_id in open_stays:
        if stay.status is not StayStatus.IN_PROGRESS:
            continue
        limit = policy.limit_for(stay.location, recent_p90)
        waited = now - stay.arrived_at
        if waited > limit:
            alerts.append(
                Alert(
                    kind=AlertKind.OVERDUE_STAY,
                    consignment_id=stay.consignment_id,
                    carrier_id=carrier_id,
                    location=stay.location,
                    occurred_at=stay.arrived_at + limit,
                    detail=(
                        f"at {stay.location} for {waited.total_seconds() / 3600:.1f} h, "
                        f"over the limit of {limit.total_seconds() / 3600:.1f} h"
                    ),
                    dedup_key=overdue_stay_key(stay),
                )
            )
    return alerts
