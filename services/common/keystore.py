"""The `KeyStore` over stored keys: principals behind key digests, from `api_keys`.

Reads through `StoredKeys` (`storage.queries.keys.KeyQueries` on PostgreSQL); revoked
keys are never returned.
"""

from __future__ import annotations

from typing import Protocol

from services.common.keys import Principal, Role
from storage.views import ApiKeyView


class StoredKeys(Protocol):
    async def api_key_by_hash(
        self, key_hash: str, include_revoked: bool = False
    ) -> ApiKeyView | None: ...


class PostgresKeyStore:
    def __init__(self, reads: StoredKeys) -> None:
        self._reads = reads

    async def principal_for(self, digest: str) -> Principal | None:
        view = await self._reads.api_key_by_hash(digest)
        return None if view is None or not view.active else principal_of(view)


def principal_of(view: ApiKeyView) -> Principal:
    return Principal(
        key_id=str(view.id),
        name=view.name,
        role=Role(view.role.value),
        locations=frozenset(view.allowed_locations or ()),
        carrier_id=view.carrier_id,
    )
