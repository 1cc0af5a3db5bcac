"""Webhook endpoints, their deliveries (an outbox) and what each endpoint was last told.

Carriers' endpoints are always read and written under their carrier id: another
carrier's endpoint answers like an unknown one. Deliveries are claimed by the
dispatcher with a lease, only the oldest pending one of each (endpoint, consignment) at
a time, so they go out in order per consignment whatever the number of dispatchers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import TupleRow

from corridor.notifications import ChangeKind, Notified
from storage.db import Pool
from storage.rows import DeliveryRow
from storage.views import DeliveryView, DueDelivery, EndpointView

_ENDPOINT_COLUMNS = """
    id, carrier_id, url, kinds, eta_threshold_seconds, description, paused, created_at,
    updated_at, secret, previous_secret, previous_secret_until
"""


def _endpoint(row: TupleRow) -> EndpointView:
    values: list[Any] = list(row)
    values[3] = tuple(ChangeKind(kind) for kind in values[3])
    return EndpointView(*values)


_DELIVERY_COLUMNS = """
    d.seq, d.id, d.endpoint_id, d.consignment_id, d.event_type, d.body, d.status, d.attempts,
    d.last_status, d.last_error, d.created_at, d.finished_at
"""
_CLAIM = f"""
WITH due AS (
    SELECT d.seq FROM webhook_deliveries d
    JOIN webhook_endpoints e ON e.id = d.endpoint_id AND NOT e.paused
    WHERE d.status = 'pending' AND d.next_attempt_at <= %(now)s
      AND (d.leased_until IS NULL OR d.leased_until < %(now)s)
      AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries earlier
          WHERE earlier.endpoint_id = d.endpoint_id
            AND earlier.consignment_id = d.consignment_id
            AND earlier.status = 'pending' AND earlier.seq < d.seq)
    ORDER BY d.next_attempt_at, d.seq
    LIMIT %(limit)s
    FOR UPDATE OF d SKIP LOCKED
)
UPDATE webhook_deliveries d SET leased_until = %(lease_until)s
FROM due WHERE d.seq = due.seq
RETURNING {_DELIVERY_COLUMNS}
"""  # noqa: S608 (module constants only)


class WebhookStore:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    # -- carriers' endpoints (API) ------------------------------------------------------

    async def create_endpoint(
        self,
        carrier_id: str,
        endpoint_id: UUID,
        url: str,
        kinds: Sequence[ChangeKind],
        eta_threshold_seconds: int,
        description: str,
        secret: str,
    ) -> EndpointView:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"""INSERT INTO webhook_endpoints
                    (id, carrier_id, url, kinds, eta_threshold_seconds, description, secret)
                VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING {_ENDPOINT_COLUMNS}""",  # noqa: S608
                (
                    endpoint_id,
                    carrier_id,
                    url,
                    list(kinds),
                    eta_threshold_seconds,
                    description,
                    secret,
                ),
            )
            row = await cursor.fetchone()
        assert row is not None
        return _endpoint(row)

    async def endpoints(self, carrier_id: str) -> tuple[EndpointView, ...]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints "  # noqa: S608
                "WHERE carrier_id = %s ORDER BY created_at, id",
                (carrier_id,),
            )
            return tuple(_endpoint(row) for row in await cursor.fetchall())

    async def endpoint(self, carrier_id: str, endpoint_id: UUID) -> EndpointView | None:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints "  # noqa: S608
                "WHERE carrier_id = %s AND id = %s",
                (carrier_id, endpoint_id),
            )
            row = await cursor.fetchone()
        return _endpoint(row) if row else None

    async def update_endpoint(
        self, carrier_id: str, endpoint_id: UUID, changes: dict[str, Any]
    ) -> EndpointView | None:
        """Sets the given columns (url, kinds, eta_threshold_seconds, description, paused,
        secret, previous_secret, previous_secret_until)."""
        allowed = {
            "url", "kinds", "eta_threshold_seconds", "description", "paused", "secret",
            "previous_secret", "previous_secret_until",
        }  # fmt: skip
        if not changes.keys() <= allowed:
            raise ValueError(f"not an endpoint column: {sorted(changes.keys() - allowed)}")
        values = {k: list(v) if k == "kinds" else v for k, v in changes.items()}
        assignments = ", ".join(f"{column} = %({column})s" for column in values)
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"UPDATE webhook_endpoints SET {assignments}, updated_at = now() "  # noqa: S608
                f"WHERE carrier_id = %(carrier_id)s AND id = %(id)s RETURNING {_ENDPOINT_COLUMNS}",
                {**values, "carrier_id": carrier_id, "id": endpoint_id},
            )
            row = await cursor.fetchone()
        return _endpoint(row) if row else None

    async def delete_endpoint(self, carrier_id: str, endpoint_id: UUID) -> bool:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "DELETE FROM webhook_endpoints WHERE carrier_id = %s AND id = %s",
                (carrier_id, endpoint_id),
            )
            return cursor.rowcount == 1

    async def dead_letters(
        self, carrier_id: str, endpoint_id: UUID, after_seq: int, limit: int
    ) -> tuple[DeliveryView, ...]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                f"""SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries d
                JOIN webhook_endpoints e ON e.id = d.endpoint_id
                WHERE e.carrier_id = %s AND d.endpoint_id = %s AND d.status = 'dead'
                  AND d.seq > %s
                ORDER BY d.seq LIMIT %s""",  # noqa: S608
                (carrier_id, endpoint_id, after_seq, limit),
            )
            return tuple(DeliveryView(*row) for row in await cursor.fetchall())

    async def replay(
        self, carrier_id: str, endpoint_id: UUID, delivery_id: str | None, now: datetime
    ) -> int:
        """Puts one dead delivery (or all of the endpoint's, with None) back in the queue,
        with fresh attempts; returns how many. It keeps its place: its sequence number."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                """UPDATE webhook_deliveries d
                SET status = 'pending', attempts = 0, next_attempt_at = %(now)s,
                    leased_until = NULL, finished_at = NULL
                FROM webhook_endpoints e
                WHERE e.id = d.endpoint_id AND e.carrier_id = %(carrier)s
                  AND d.endpoint_id = %(endpoint)s AND d.status = 'dead'
                  AND (%(delivery)s::text IS NULL OR d.id = %(delivery)s::text)""",
                {
                    "now": now,
                    "carrier": carrier_id,
                    "endpoint": endpoint_id,
                    "delivery": delivery_id,
                },
            )
            return cursor.rowcount

    # -- the dispatcher -------------------------------------------------------------------

    async def subscribed_endpoints(self, carrier_id: str) -> tuple[EndpointView, ...]:
        return await self.endpoints(carrier_id)

    async def notified(
        self, endpoint_ids: Iterable[UUID], consignment_id: str
    ) -> dict[UUID, Notified]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                """SELECT endpoint_id, state, current_location, eta_p50 FROM webhook_notified
                WHERE endpoint_id = ANY(%s) AND consignment_id = %s""",
                (list(endpoint_ids), consignment_id),
            )
            return {row[0]: Notified(row[1], row[2], row[3]) for row in await cursor.fetchall()}

    async def enqueue(
        self,
        deliveries: Sequence[DeliveryRow],
        notified: Sequence[tuple[UUID, str, Notified]],
    ) -> int:
        """Stores the deliveries (once per endpoint and dedup key) and what the endpoints
        will know, in one transaction; returns how many deliveries were new."""
        added = 0
        async with self._pool.connection() as conn, conn.transaction():
            for d in deliveries:
                cursor = await conn.execute(
                    """INSERT INTO webhook_deliveries
                        (id, endpoint_id, consignment_id, event_type, dedup_key, body)
                    VALUES (%s, %s, %s, %s, %s, %s)
                    ON CONFLICT (endpoint_id, dedup_key) DO NOTHING""",
                    (d.id, d.endpoint_id, d.consignment_id, d.event_type, d.dedup_key, d.body),
                )
                added += cursor.rowcount
            for endpoint_id, consignment_id, known in notified:
                await conn.execute(
                    """INSERT INTO webhook_notified
                        (endpoint_id, consignment_id, state, current_location, eta_p50)
                    VALUES (%s, %s, %s, %s, %s)
                    ON CONFLICT (endpoint_id, consignment_id) DO UPDATE SET
                        state = EXCLUDED.state, current_location = EXCLUDED.current_location,
                        eta_p50 = EXCLUDED.eta_p50, updated_at = now()""",
                    (endpoint_id, consignment_id, known.state, known.location, known.eta_p50),
                )
        return added

    async def claim_due(
        self, now: datetime, lease_until: datetime, limit: int
    ) -> tuple[DueDelivery, ...]:
        """The oldest pending delivery of each (endpoint, consignment) that is due, leased
        until `lease_until`; none of a paused endpoint."""
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                _CLAIM, {"now": now, "lease_until": lease_until, "limit": limit}
            )
            deliveries = [DeliveryView(*row) for row in await cursor.fetchall()]
            if not deliveries:
                return ()
            cursor = await conn.execute(
                f"SELECT {_ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = ANY(%s)",  # noqa: S608
                ([d.endpoint_id for d in deliveries],),
            )
            endpoints = {row[0]: _endpoint(row) for row in await cursor.fetchall()}
        return tuple(DueDelivery(d, endpoints[d.endpoint_id]) for d in deliveries)

    async def delivered(self, seq: int, status: int, now: datetime) -> None:
        async with self._pool.connection() as conn:
            await conn.execute(
                """UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1,
                    last_status = %s, last_error = NULL, finished_at = %s, leased_until = NULL
                WHERE seq = %s""",
                (status, now, seq),
            )

    async def failed(
        self,
        seq: int,
        status: int | None,
        error: str,
        retry_at: datetime | None,
        now: datetime,
    ) -> None:
        """A failed attempt: retried at `retry_at`, or a dead letter when that is None."""
        async with self._pool.connection() as conn:
            await conn.execute(
                """UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = %s,
                    last_error = %s, leased_until = NULL,
                    status = CASE WHEN %s::timestamptz IS NULL THEN 'dead' ELSE 'pending' END,
                    next_attempt_at = coalesce(%s::timestamptz, next_attempt_at),
                    finished_at = CASE WHEN %s::timestamptz IS NULL THEN %s END
                WHERE seq = %s""",
                (status, error[:500], retry_at, retry_at, retry_at, now, seq),
            )

    async def pending_count(self) -> int:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'"
            )
            row = await cursor.fetchone()
        return int(row[0]) if row else 0
