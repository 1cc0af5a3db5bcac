"""Border crossings and legs: what lies between two consecutive stays."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from corridor.events import TransportMode
from corridor.model import Crossing, Leg, Stay
from corridor.reference import CorridorReference, Route


def derive_crossings(stays: Sequence[Stay], reference: CorridorReference) -> tuple[Crossing, ...]:
    """A crossing wherever two consecutive stays face each other across a border pair."""
    crossings: list[Crossing] = []
    for first, second in pairwise(stays):
        border = reference.border_between(first.location, second.location)
        if border is None:
            continue
        from_country = reference.location(first.location).country
        to_country = reference.location(second.location).country
        crossings.append(
            Crossing(
                consignment_id=first.consignment_id,
                border_id=border.id,
                from_location=first.location,
                to_location=second.location,
                direction=f"{from_country}->{to_country}",
                arrived_at=first.arrived_at,
                departed_at=second.departed_at,
            )
        )
    return tuple(crossings)


def derive_legs(
    stays: Sequence[Stay], reference: CorridorReference, route: Route | None
) -> tuple[Leg, ...]:
    """A leg from each departed stay to the next stay elsewhere."""
    legs: list[Leg] = []
    for origin, destination in pairwise(stays):
        if origin.departed_at is None or origin.location == destination.location:
            continue
        segment = reference.segment(origin.location, destination.location)
        legs.append(
            Leg(
                consignment_id=origin.consignment_id,
                from_location=origin.location,
                to_location=destination.location,
                mode=segment.mode if segment else _fallback_mode(route),
                departed_at=origin.departed_at,
                arrived_at=destination.arrived_at,
                distance_km=segment.km if segment else None,
                origin_dwell_seconds=origin.dwell_seconds,
            )
        )
    return tuple(legs)


def _fallback_mode(route: Route | None) -> TransportMode:
    # Without a segment the declared route's mode is the best guess; road carries most.
    return route.mode if route else TransportMode.ROAD
