"""The tracker's memory of recent consignments: what it folded and the rows it stored,
least recently touched out first, bounded in bytes.

The bytes are an estimate from counts (events, rows), calibrated on simulated corridor
traffic decoded as the worker decodes it; `tests/unit/test_tracker_history_cache.py`
holds it to what tracemalloc measures.
"""

from __future__ import annotations

from collections import OrderedDict

from corridor.folding import FoldedEvents
from storage.rows import TimelineRows

# A decoded event as the worker holds it: the pydantic models, its wire JSON (adopted as
# its canonical JSON), digest and sort key, and its share of the fold's tuple and map.
EVENT_BYTES = 2_900
# A stay, crossing or leg row, or the consignment row: a named tuple of ~15 values.
ROW_BYTES = 350
# The cache entry, the fold and the rows' containers.
CONSIGNMENT_BYTES = 500


def held_bytes(folded: FoldedEvents, stored: TimelineRows) -> int:
    rows = 1 + len(stored.stays) + len(stored.crossings) + len(stored.legs)
    return CONSIGNMENT_BYTES + folded.event_count * EVENT_BYTES + rows * ROW_BYTES


class RecentHistories:
    """`EventHistory` as an LRU for one worker's partitions, holding about `max_bytes`."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes_held = 0
        self._entries: OrderedDict[str, tuple[FoldedEvents, TimelineRows, int]] = OrderedDict()

    @property
    def bytes_held(self) -> int:
        return self._bytes_held

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, consignment_id: str) -> FoldedEvents | None:
        known = self._entries.get(consignment_id)
        if known is None:
            return None
        self._entries.move_to_end(consignment_id)
        return known[0]

    def stored_rows(self, consignment_id: str) -> TimelineRows | None:
        known = self._entries.get(consignment_id)
        return known[1] if known is not None else None

    def put(self, consignment_id: str, folded: FoldedEvents, stored: TimelineRows) -> None:
        self.forget(consignment_id)
        size = held_bytes(folded, stored)
        self._entries[consignment_id] = (folded, stored, size)
        self._bytes_held += size
        while self._bytes_held > self._max_bytes:
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._bytes_held -= evicted

    def forget(self, consignment_id: str) -> None:
        known = self._entries.pop(consignment_id, None)
        if known is not None:
            self._bytes_held -= known[2]

    def clear(self) -> None:
        self._entries.clear()
        self._bytes_held = 0
