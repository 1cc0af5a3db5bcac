"""Consignment aliases: placeholder ids (an MRN a message was filed under before its link
to the declaration was known) and the consignment each was merged into
(`corridor.aliases`). SQL only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from storage.db import Pool

_ALIASES_OF = "SELECT alias, consignment_id FROM consignment_aliases WHERE alias = ANY(%s)"
# The first link recorded wins; every statement below follows the recorded one, so a
# placeholder's rows never split between two consignments.
_RECORD = """
INSERT INTO consignment_aliases (alias, consignment_id)
SELECT * FROM unnest(%s::text[], %s::text[]) ORDER BY 1
ON CONFLICT (alias) DO NOTHING
"""
# Only placeholders that hold rows are moved: most links name an MRN that never had a
# consignment of its own, and the event move probes every chunk of a hypertable.
_HOLDING_ROWS = "SELECT consignment_id FROM consignments WHERE consignment_id = ANY(%s)"
_MOVE_EVENTS = """
UPDATE transit_events AS e
SET consignment_id = a.consignment_id,
    payload = jsonb_set(e.payload, '{consignment_id}', to_jsonb(a.consignment_id))
FROM consignment_aliases AS a
WHERE a.alias = ANY(%(placeholders)s) AND e.consignment_id = a.alias
"""
_MOVE_ALERTS = """
UPDATE alerts SET consignment_id = a.consignment_id
FROM consignment_aliases AS a
WHERE a.alias = ANY(%(placeholders)s) AND alerts.consignment_id = a.alias
"""
# The rows derived from the placeholder's events; the target's are rebuilt from all of them.
_DROP_DERIVED = tuple(
    f"DELETE FROM {table} WHERE consignment_id = ANY(%(placeholders)s)"  # noqa: S608
    for table in ("stays", "crossings", "legs", "consignments")
)


class AliasRepository:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def aliases_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        if not consignment_ids:
            return {}
        async with self._pool.connection() as conn:
            cursor = await conn.execute(_ALIASES_OF, (list(consignment_ids),))
            return {str(alias): str(target) for alias, target in await cursor.fetchall()}

    async def merge(self, links: Mapping[str, str]) -> dict[str, str]:
        """Record each placeholder of `links` as an alias of its target, move its events
        and alerts there and drop its derived rows; one transaction, idempotent. Returns
        the alias recorded for each placeholder (an earlier link's target wins)."""
        if not links:
            return {}
        placeholders = sorted(links)
        async with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.execute(_RECORD, (placeholders, [links[p] for p in placeholders]))
            await cur.execute(_HOLDING_ROWS, (placeholders,))
            holding = sorted(str(row[0]) for row in await cur.fetchall())
            if holding:
                params = {"placeholders": holding}
                for statement in (_MOVE_EVENTS, _MOVE_ALERTS, *_DROP_DERIVED):
                    await cur.execute(statement, params)
            await cur.execute(_ALIASES_OF, (placeholders,))
            return {str(alias): str(target) for alias, target in await cur.fetchall()}
