"""The PostgreSQL `ConsignmentDirectory`: consignments the tracker already knows.

Wraps `storage.reads.ReadRepository.search_by_reference` and keeps only a consignment
whose reference of the asked kind matches. An LRN is not a reference the tracker stores:
a declaration known only by its LRN (CC015C) is filed under the LRN as its consignment
id, so the consignment an LRN names is the one with that id.
"""

from __future__ import annotations

from collections.abc import Sequence

from services.ingest.adapters.base import ReferenceKind
from storage.reads import ReadRepository
from storage.rows import normalize_reference
from storage.views import ConsignmentView


class PostgresConsignmentDirectory:
    def __init__(self, reads: ReadRepository) -> None:
        self._reads = reads

    async def find(self, reference_kind: ReferenceKind, value: str) -> tuple[str, str] | None:
        page = await self._reads.search_by_reference(value, limit=5)
        wanted = normalize_reference(value)
        for view in page.items:
            if reference_kind is ReferenceKind.LRN and view.consignment_id == value.strip():
                return view.consignment_id, view.carrier_id
            if _reference(view, reference_kind) == wanted:
                return view.consignment_id, view.carrier_id
        return None

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        return await self._reads.carriers_of(consignment_ids)


def _reference(view: ConsignmentView, kind: ReferenceKind) -> str | None:
    value = {
        ReferenceKind.MRN: view.references.mrn,
        ReferenceKind.TIR_CARNET: view.references.tir_carnet,
        ReferenceKind.PERMIT_ID: view.references.permit_id,
    }.get(kind)
    return normalize_reference(value) if value else None
