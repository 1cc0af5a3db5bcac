"""Alerts raised since an instant, for the API."""

from __future__ import annotations

from datetime import datetime

from storage.queries.fetch import PooledQueries, fetch_all
from storage.views import AlertView

_ALERTS = """
SELECT id, kind, consignment_id, carrier_id, location, occurred_at, raised_at, detail,
       withdrawn_at
FROM alerts
WHERE raised_at >= %(since)s
  AND (%(location)s::text IS NULL OR location = %(location)s)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s)
  AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
  AND (%(after_id)s::bigint IS NULL OR id > %(after_id)s)
  AND (%(open)s::boolean IS NULL OR (withdrawn_at IS NULL) = %(open)s)
ORDER BY id
LIMIT %(limit)s
"""


class AlertQueries(PooledQueries):
    async def alerts(
        self,
        since: datetime,
        location: str | None = None,
        kind: str | None = None,
        carrier_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
        is_open: bool | None = None,
    ) -> tuple[AlertView, ...]:
        """Alerts raised at or after ``since``, oldest first; page on with ``after_id``.

        ``is_open``: only the open (True) or the withdrawn (False) ones; None: all."""
        params = {
            "since": since,
            "location": location,
            "kind": kind,
            "carrier": carrier_id,
            "after_id": after_id,
            "limit": limit,
            "open": is_open,
        }
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, _ALERTS, params)
        return tuple(AlertView(*row) for row in rows)
