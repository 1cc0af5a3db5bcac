"""Open stays per location, recent dwell and the tracker's clock: what the API's
queues and clearance outlooks read."""

from __future__ import annotations

from datetime import datetime

from storage.queries.fetch import PooledQueries, fetch_all
from storage.queries.tracker import EVENT_CLOCK
from storage.views import LocationQueueView

# Completed stays at a location that departed in [since, until). The arrival bound lets
# the (location, arrived_at) index, and TimescaleDB's chunks, narrow the scan; a stay
# longer than the window itself is too rare to move a percentile.
_RECENT_DWELLS = """
SELECT dwell_seconds FROM stays
WHERE location = %(location)s AND status = 'completed' AND dwell_seconds IS NOT NULL
  AND NOT implausible
  AND arrived_at >= %(since)s - (%(until)s - %(since)s) AND arrived_at < %(until)s
  AND departed_at >= %(since)s AND departed_at < %(until)s
"""
_QUEUES = """
SELECT location, count(*), min(arrived_at) FROM stays
WHERE status = 'in_progress' AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
GROUP BY location ORDER BY location
"""


class LocationQueries(PooledQueries):
    async def tracker_clock(self) -> datetime | None:
        """The tracker's event-time clock (`storage.queries.tracker.EVENT_CLOCK`), or None."""
        async with self._pool.connection() as conn:
            row = await (await conn.execute(EVENT_CLOCK)).fetchone()
        return row[0] if row else None

    async def recent_dwell_seconds(
        self, location: str, since: datetime, until: datetime
    ) -> list[int]:
        """Dwell of the location's completed stays that departed in [since, until)."""
        async with self._pool.connection() as conn:
            rows = await fetch_all(
                conn, _RECENT_DWELLS, {"location": location, "since": since, "until": until}
            )
        return [int(row[0]) for row in rows]

    async def location_queues(self, carrier_id: str | None = None) -> tuple[LocationQueueView, ...]:
        """Per location with open stays: how many, and the oldest arrival."""
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, _QUEUES, {"carrier": carrier_id})
        return tuple(LocationQueueView(*row) for row in rows)
