"""`ConsignmentStates` over a Faust table: a small JSON summary per consignment in flight."""

from __future__ import annotations

from typing import Any

from corridor.model import Timeline
from services.common.kafka_internals import on_behalf_of
from services.tracker.derived_topics import consignment_update, encode

# RocksDB sizing per table partition. faust's defaults (a 2 GiB block cache, 3 x 64 MiB
# memtables) suit big tables; this one holds ~350 bytes per consignment but gets a write
# per event, each a memtable version until flushed (docs/tracker.md, *Table stores*).
STATE_STORE_OPTIONS: dict[str, int] = {
    "write_buffer_size": 8 * 1024**2,
    "max_write_buffer_number": 2,
    "block_cache_size": 16 * 1024**2,
}


class TableStates:
    """faust files a table write under the partition of the stream event being processed.
    A batch holds many events, so each write is made on behalf of an event of the same
    consignment (same key, same partition): `bind` says which."""

    def __init__(self, table: Any) -> None:  # a faust Table[bytes, bytes]
        self._table = table
        self._events_by_consignment: dict[str, Any] = {}

    def bind(self, events_by_consignment: dict[str, Any]) -> None:
        self._events_by_consignment = events_by_consignment

    def record(self, timeline: Timeline) -> None:
        bound = self._events_by_consignment.get(timeline.consignment_id)
        if bound is None:
            # Re-filed from an alias's partition (`corridor.aliases`): the entry belongs to
            # another partition's changelog, and that partition's next event writes it.
            return
        summary = encode(consignment_update(timeline))
        with on_behalf_of(bound):
            self._table[timeline.consignment_id.encode()] = summary

    def remove(self, consignment_id: str) -> None:
        bound = self._events_by_consignment.get(consignment_id)
        if bound is None:
            return  # as in `record`: not this batch's partition to write
        with on_behalf_of(bound):
            self._table.pop(consignment_id.encode(), None)
