"""The tracker-without-Faust bench path reads progress as the tracker's loop does."""

from __future__ import annotations

import dataclasses

import pytest
from aiokafka.structs import ConsumerRecord

from bench.plain_tracker import decoded_batch
from bench.tracker_batches import simulated_records
from corridor.errors import CorridorError


def _records(topic: str = "t") -> list[ConsumerRecord[bytes, bytes]]:
    return [
        ConsumerRecord(topic, n % 2, 10 + n, 0, 0, key, value, None, 0, 0, headers)
        for n, (key, value, headers) in enumerate(simulated_records(200))
    ]


def test_a_batch_goes_as_far_as_its_last_offset_and_newest_event_per_partition() -> None:
    records = _records()
    events, progress = decoded_batch(records)
    assert [event.consignment_id for event in events] == [r.key.decode() for r in records]
    for partition in (0, 1):
        mine = [(r, e) for r, e in zip(records, events, strict=True) if r.partition == partition]
        assert progress["t", partition].next_offset == max(r.offset for r, _ in mine) + 1
        assert progress["t", partition].event_time == max(e.occurred_at for _, e in mine)


def test_a_record_that_is_no_event_fails_the_batch() -> None:
    records = _records()
    records[3] = dataclasses.replace(records[3], value=b"{}")
    with pytest.raises((CorridorError, ValueError)):
        decoded_batch(records)
