"""The ETA as the status presents it (`services.common.eta` computes it)."""

from __future__ import annotations

from corridor.eta import ArrivalEstimate
from services.api import schemas


def present(estimate: ArrivalEstimate) -> schemas.ArrivalEstimate:
    return schemas.ArrivalEstimate(
        destination=estimate.destination,
        as_of=estimate.as_of,
        window_start=estimate.window_start,
        window_end=estimate.window_end,
        arrival_p50=estimate.arrival_p50,
        arrival_p90=estimate.arrival_p90,
        remaining_stops=[
            schemas.StopArrival(
                location=stop.location, arrival_p50=stop.arrival_p50, arrival_p90=stop.arrival_p90
            )
            for stop in estimate.stops
        ],
        based_on=[
            schemas.EtaPart(
                kind=part.kind.value,
                location=part.location,
                to_location=part.to_location,
                samples=part.samples,
                elapsed_seconds=part.elapsed_seconds,
            )
            for part in estimate.basis
        ],
        unavailable=estimate.unavailable.value if estimate.unavailable else None,
        reason=estimate.reason,
    )
