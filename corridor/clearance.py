"""When will it clear? An outlook for an open stay, from the location's recent stays.

A carrier whose truck has waited five hours at a border wants to know when it will
leave, not how long stays there take on average: the stays that matter are those that
also lasted five hours or more. The outlook therefore conditions on the wait so far:
among the location's recent completed stays that lasted longer than this one has
waited, half had left by `expected_departure_at` and nine in ten by
`likely_departure_by`. Both lie after the outlook's instant: a truck still waiting is
never told it should have left. With fewer than `min_comparable` such stays there is
no estimate (the counts say why), and a wait beyond the p90 of all recent stays is
flagged as longer than usual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from corridor.kpi import median, p90

RECENT_WINDOW = timedelta(days=30)
"""Stays that departed this long before the outlook's instant count as recent."""
MIN_COMPARABLE = 20
"""Fewer comparable stays than this give no estimate (as for the overdue alert's p90)."""


@dataclass(frozen=True, slots=True)
class ClearanceOutlook:
    location: str
    arrived_at: datetime
    as_of: datetime
    waited: timedelta
    recent_stays: int
    """Completed stays at the location that departed in the window before `as_of`."""
    comparable_stays: int
    """Those of them that lasted longer than this stay has waited."""
    expected_departure_at: datetime | None
    """Half of the comparable stays had ended this long after their arrival."""
    likely_departure_by: datetime | None
    """Nine in ten of them had."""
    longer_than_usual: bool
    """The wait exceeds the p90 of all recent stays (needs `min_comparable` of them)."""


def clearance_outlook(
    location: str,
    arrived_at: datetime,
    as_of: datetime,
    recent_dwell_seconds: Sequence[float],
    min_comparable: int = MIN_COMPARABLE,
) -> ClearanceOutlook:
    """The outlook of a stay open since `arrived_at`, judged at `as_of`, from the dwell
    times of the location's recent completed stays."""
    waited = max(timedelta(0), as_of - arrived_at)
    waited_seconds = waited.total_seconds()
    comparable = [dwell for dwell in recent_dwell_seconds if dwell > waited_seconds]
    expected = likely = None
    if len(comparable) >= min_comparable:
        # Both are defined for a non-empty list; the guard above ensures one.
        expected = arrived_at + timedelta(seconds=median(comparable) or 0.0)
        likely = arrived_at + timedelta(seconds=p90(comparable) or 0.0)
    usual_p90 = p90(recent_dwell_seconds) if len(recent_dwell_seconds) >= min_comparable else None
    return ClearanceOutlook(
        location=location,
        arrived_at=arrived_at,
        as_of=as_of,
        waited=waited,
        recent_stays=len(recent_dwell_seconds),
        comparable_stays=len(comparable),
        expected_departure_at=expected,
        likely_departure_by=likely,
        longer_than_usual=usual_p90 is not None and waited_seconds > usual_p90,
    )
