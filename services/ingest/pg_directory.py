"""The PostgreSQL `ConsignmentDirectory`: consignments the tracker already knows.

Reads through `ReferenceSearch` (`storage.queries.directory.DirectoryQueries` on
PostgreSQL) and keeps only a consignment
whose reference of the asked kind matches. An LRN is not a reference the tracker stores:
a declaration known only by its LRN (CC015C) is filed under the LRN as its consignment
id, so the consignment an LRN names is the one with that id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from services.ingest.adapters.base import ReferenceKind
from services.ingest.directory import KnownConsignment
from storage.rows import normalize_reference
from storage.views import ConsignmentKey, ConsignmentView, Page


class ReferenceSearch(Protocol):
    async def search_by_reference(
        self,
        value: str,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]: ...

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]: ...


class PostgresConsignmentDirectory:
    def __init__(self, reads: ReferenceSearch) -> None:
        self._reads = reads

    async def find(self, reference_kind: ReferenceKind, value: str) -> KnownConsignment | None:
        page = await self._reads.search_by_reference(value, limit=5)
        wanted = normalize_reference(value)
        for view in page.items:
            if reference_kind is ReferenceKind.LRN and view.consignment_id == value.strip():
                return view.consignment_id, view.carrier_id
            if _reference(view, reference_kind) == wanted:
                return view.consignment_id, view.carrier_id
        return None

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        return await self._reads.carriers_of(consignment_ids)


def _reference(view: ConsignmentView, kind: ReferenceKind) -> str | None:
    value = {
        ReferenceKind.MRN: view.references.mrn,
        ReferenceKind.TIR_CARNET: view.references.tir_carnet,
        ReferenceKind.PERMIT_ID: view.references.permit_id,
    }.get(kind)
    return normalize_reference(value) if value else None
