"""The PostgreSQL-backed `KeyStore`: principals behind key digests, from `api_keys`.

Wraps `storage.reads.ReadRepository.api_key_by_hash`; revoked keys are never returned.
"""

from __future__ import annotations

from services.common.keys import Principal, Role
from storage.reads import ReadRepository
from storage.views import ApiKeyView


class PostgresKeyStore:
    def __init__(self, reads: ReadRepository) -> None:
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
