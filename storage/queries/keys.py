"""The stored API key behind a digest, for the key store."""

from __future__ import annotations

from storage.queries.fetch import PooledQueries, fetch_all
from storage.views import ApiKeyRole, ApiKeyView

_API_KEY = """
SELECT id, name, role, key_prefix, allowed_locations, carrier_id, created_at, revoked_at
FROM api_keys WHERE key_hash = %(hash)s AND (%(revoked)s OR revoked_at IS NULL)
"""


class KeyQueries(PooledQueries):
    async def api_key_by_hash(
        self, key_hash: str, include_revoked: bool = False
    ) -> ApiKeyView | None:
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, _API_KEY, {"hash": key_hash, "revoked": include_revoked})
        if not rows:
            return None
        (key_id, name, role, prefix, locations, carrier_id, created_at, revoked_at) = rows[0]
        return ApiKeyView(
            id=key_id,
            name=name,
            role=ApiKeyRole(role),
            key_prefix=prefix,
            allowed_locations=tuple(locations) if locations is not None else None,
            carrier_id=carrier_id,
            created_at=created_at,
            revoked_at=revoked_at,
        )
