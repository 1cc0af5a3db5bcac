"""A consignment's ETA from its stored views: the inputs of `corridor.eta`, and a cache.

The rule is `corridor.eta`; this module picks its inputs from a status view (the route,
the mode, the latest stay) and fetches the corridor statistics through an
`EtaStatistics` source, cached per process (they describe 30 days and change slowly).
The API's status and the webhook dispatcher both answer with it.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from corridor.eta import (
    ETA_WINDOW,
    ArrivalEstimate,
    CorridorStatistics,
    Position,
    estimate_arrival,
    route_directions,
)
from corridor.model import ConsignmentState, StayStatus
from corridor.reference import CorridorReference
from storage.views import ConsignmentView, StayView

UNDER_WAY = frozenset(
    {ConsignmentState.DECLARED, ConsignmentState.IN_TRANSIT, ConsignmentState.AT_LOCATION}
)


class EtaStatistics(Protocol):
    async def corridor_statistics(self, since: datetime, until: datetime) -> CorridorStatistics:
        """Stays that arrived and legs that departed in [since, until) and have ended; the
        trucks still waiting at `until`."""
        ...


@dataclass(slots=True)
class _Entry:
    computed_at: float
    until: datetime
    statistics: CorridorStatistics


class CachedEtaStatistics:
    """Reuses the last statistics for `ttl` seconds, or while the clock has not moved."""

    def __init__(
        self, source: EtaStatistics, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._entry: _Entry | None = None

    async def corridor_statistics(self, since: datetime, until: datetime) -> CorridorStatistics:
        now = self._clock()
        entry = self._entry
        if entry is not None and (entry.until == until or now - entry.computed_at < self._ttl):
            return entry.statistics
        statistics = await self._source.corridor_statistics(since, until)
        self._entry = _Entry(now, until, statistics)
        return statistics


def route_of(consignment: ConsignmentView, reference: CorridorReference) -> tuple[str, ...]:
    """The locations ahead end at the declared route's end, else at its route's last."""
    if consignment.declared_route:
        return consignment.declared_route
    if consignment.route_id and consignment.route_id in reference.routes_by_id:
        return reference.routes_by_id[consignment.route_id].locations
    return ()


def mode_of(
    consignment: ConsignmentView, stays: tuple[StayView, ...], reference: CorridorReference
) -> str | None:
    if consignment.route_id and consignment.route_id in reference.routes_by_id:
        return reference.routes_by_id[consignment.route_id].mode.value
    modes = [stay.mode for stay in sorted(stays, key=lambda s: s.arrived_at) if stay.mode]
    return modes[-1] if modes else None


def position_of(stays: tuple[StayView, ...]) -> Position | None:
    if not stays:
        return None
    latest = max(stays, key=lambda s: s.arrived_at)
    if latest.status is StayStatus.IN_PROGRESS:
        return Position(latest.location, latest.arrived_at, None)
    # Seen further on without a departure report: it left no earlier than it arrived.
    return Position(latest.location, latest.arrived_at, latest.departed_at or latest.arrived_at)


async def estimate_for(
    consignment: ConsignmentView,
    stays: tuple[StayView, ...],
    reference: CorridorReference,
    source: EtaStatistics,
    judged_at: Callable[[], Awaitable[datetime]],
) -> ArrivalEstimate | None:
    """The consignment's ETA at the instant `judged_at` gives; None once it has finished,
    was rejected or cancelled."""
    if consignment.state not in UNDER_WAY:
        return None
    route = route_of(consignment, reference)
    mode = mode_of(consignment, stays, reference)
    if not route or mode is None:
        return None
    as_of = await judged_at()
    statistics = await source.corridor_statistics(as_of - ETA_WINDOW, as_of)
    countries = {code: location.country for code, location in reference.locations_by_code.items()}
    directions = route_directions(route, countries)
    return estimate_arrival(
        route, mode, position_of(stays), as_of, statistics, directions=directions
    )
