"""What ingest's consignment directory asks: consignments known by a reference, and
the carrier of consignments already stored."""

from __future__ import annotations

from collections.abc import Sequence

from storage.queries.consignments import CONSIGNMENT_COLUMNS, consignment_view
from storage.queries.fetch import PooledQueries, fetch_all
from storage.rows import normalize_permit_id, normalize_reference
from storage.views import ConsignmentKey, ConsignmentView, Page

# The f-string below only splices in a constant SQL fragment (S608).
_SEARCH = f"""
SELECT {CONSIGNMENT_COLUMNS} FROM consignments
WHERE (consignment_id = %(raw)s OR tir_carnet = %(q)s OR mrn = %(q)s OR permit_id = %(permit)s
       OR vehicle_plates @> ARRAY[%(q)s]::text[] OR container_numbers @> ARRAY[%(q)s]::text[])
  AND (%(carrier)s::text IS NULL OR carrier_id = %(carrier)s)
  AND (%(after_time)s::timestamptz IS NULL
       OR (last_event_at, consignment_id) < (%(after_time)s, %(after_id)s::text))
ORDER BY last_event_at DESC, consignment_id DESC
LIMIT %(limit)s
"""  # noqa: S608
_CARRIERS = "SELECT consignment_id, carrier_id FROM consignments WHERE consignment_id = ANY(%s)"


class DirectoryQueries(PooledQueries):
    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        """The carrier of each of these consignments that is stored (None: not named yet);
        unknown ids are absent."""
        if not consignment_ids:
            return {}
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, _CARRIERS, (list(consignment_ids),))
        return {str(row[0]): None if row[1] is None else str(row[1]) for row in rows}

    async def search_by_reference(
        self,
        value: str,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]:
        """Consignments known by ``value`` as id, carnet, MRN, permit, plate or container,
        newest first; keyset pagination on (last_event_at, consignment_id)."""
        after_time, after_id = after or (None, None)
        params = {
            "raw": value.strip(),
            "q": normalize_reference(value),
            "permit": normalize_permit_id(value),
            "carrier": carrier_id,
            "after_time": after_time,
            "after_id": after_id,
            "limit": limit + 1,
        }
        async with self._pool.connection() as conn:
            rows = await fetch_all(conn, _SEARCH, params)
        items = tuple(consignment_view(row) for row in rows[:limit])
        return Page(items=items, has_more=len(rows) > limit)
