"""Queries the tracker needs besides the write repository: reload, open stays, p90s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from corridor.events import TransitEvent
from corridor.model import Stay, StayStatus
from corridor.ownership import claimed_carrier
from storage.db import Pool

# As text: pydantic validates JSON text directly, without psycopg first building dicts.
_EVENTS_OF = """
SELECT payload::text FROM transit_events
WHERE consignment_id = ANY(%s)
ORDER BY consignment_id, occurred_at
"""
# The clock open stays are judged by (overdue alerts, the API's clearance outlook): the
# slowest partition's newest event time (migration 0008 says why); before the tracker
# has recorded any, as in a database filled by other means, the latest event stored.
EVENT_CLOCK = """
SELECT coalesce((SELECT min(event_time) FROM tracker_progress),
                (SELECT max(last_event_at) FROM consignments))
"""
_OPEN_STAYS = """
SELECT consignment_id, location, visit, arrived_at, released_at, carrier_id
FROM stays WHERE status = 'in_progress'
ORDER BY arrived_at, consignment_id
"""
_RECENT_P90 = """
SELECT location,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds),
       count(*)
FROM stays
WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND NOT implausible
  AND departed_at >= %s AND departed_at < %s
GROUP BY location
"""


class TrackerQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def events_of(self, consignment_ids: Sequence[str]) -> dict[str, list[TransitEvent]]:
        found: dict[str, list[TransitEvent]] = {}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_EVENTS_OF, (list(consignment_ids),))
            for (payload,) in await cursor.fetchall():
                event = TransitEvent.model_validate_json(payload)
                found.setdefault(event.consignment_id, []).append(event)
        return found

    async def watermark(self) -> datetime | None:
        async with self._pool.connection() as conn:
            row = await (await conn.execute(EVENT_CLOCK)).fetchone()
        return row[0] if row else None

    async def open_stays(self) -> list[tuple[Stay, str | None]]:
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(_OPEN_STAYS)).fetchall()
        return [
            (
                Stay(
                    consignment_id=cid,
                    location=location,
                    visit=visit,
                    arrived_at=arrived,
                    status=StayStatus.IN_PROGRESS,
                    released_at=released,
                ),
                # Stays keep the wire value for a carrier not named yet (storage.rows).
                claimed_carrier(carrier_id),
            )
            for cid, location, visit, arrived, released, carrier_id in rows
        ]

    async def recent_p90_by_location(
        self, now: datetime, window: timedelta = timedelta(days=7)
    ) -> dict[str, tuple[float, int]]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_RECENT_P90, (now - window, now))
            rows = await cursor.fetchall()
        return {location: (float(p90), int(count)) for location, p90, count in rows}
