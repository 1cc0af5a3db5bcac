"""Each consignment's latest ETA, kept for the dashboards (`consignment_eta`).

The ETA rule is Python (`corridor.eta`); Grafana reads SQL. The webhook dispatcher,
which computes the ETA on every consignment update anyway, records the answer here:
a newer estimate replaces an older one, never the reverse, and a consignment that has
finished (no estimate) loses its row.
"""

from __future__ import annotations

from psycopg.types.json import Jsonb

from corridor.eta import ArrivalEstimate
from storage.db import Pool

_UPSERT = """
INSERT INTO consignment_eta (consignment_id, as_of, destination, arrival_p50, arrival_p90,
                             window_start, window_end, parts, fewest_samples, basis,
                             unavailable, reason)
VALUES (%(consignment_id)s, %(as_of)s, %(destination)s, %(arrival_p50)s, %(arrival_p90)s,
        %(window_start)s, %(window_end)s, %(parts)s, %(fewest_samples)s, %(basis)s,
        %(unavailable)s, %(reason)s)
ON CONFLICT (consignment_id) DO UPDATE SET
    as_of = EXCLUDED.as_of, destination = EXCLUDED.destination,
    arrival_p50 = EXCLUDED.arrival_p50, arrival_p90 = EXCLUDED.arrival_p90,
    window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end,
    parts = EXCLUDED.parts, fewest_samples = EXCLUDED.fewest_samples,
    basis = EXCLUDED.basis, unavailable = EXCLUDED.unavailable, reason = EXCLUDED.reason
WHERE consignment_eta.as_of <= EXCLUDED.as_of
"""
_DELETE = "DELETE FROM consignment_eta WHERE consignment_id = %s"


class ConsignmentEtas:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def record(self, consignment_id: str, estimate: ArrivalEstimate | None) -> None:
        async with self._pool.connection() as conn:
            if estimate is None:
                await conn.execute(_DELETE, (consignment_id,))
            else:
                await conn.execute(_UPSERT, _row(consignment_id, estimate))


def _row(consignment_id: str, estimate: ArrivalEstimate) -> dict[str, object]:
    basis = [
        {
            "kind": part.kind.value,
            "location": part.location,
            "to_location": part.to_location,
            "samples": part.samples,
        }
        for part in estimate.basis
    ]
    return {
        "consignment_id": consignment_id,
        "as_of": estimate.as_of,
        "destination": estimate.destination,
        "arrival_p50": estimate.arrival_p50,
        "arrival_p90": estimate.arrival_p90,
        "window_start": estimate.window_start,
        "window_end": estimate.window_end,
        "parts": len(estimate.basis),
        "fewest_samples": min((part.samples for part in estimate.basis), default=None),
        "basis": Jsonb(basis),
        "unavailable": estimate.unavailable.value if estimate.unavailable else None,
        "reason": estimate.reason,
    }
