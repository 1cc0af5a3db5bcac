"""The batch loop's policy: a poison record is set aside and the rest stored, the batch is
acked only once settled, and a failure poison cannot explain stops the worker unacked."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, NoReturn

import pytest

from corridor.cloudevents import to_kafka_record
from corridor.events import EventType, TransitEvent
from corridor.model import Timeline
from services.tracker import tracking_loop
from services.tracker.tracking_loop import TrackingLoop
from storage.dead_letters import DeadLetter
from storage.progress import DatabaseBehind, PartitionProgress
from tests.unit.factories import event


class Crashed(Exception):
    pass


def crash(reason: str) -> NoReturn:
    raise Crashed(reason)


@dataclass
class FakeTracker:
    """Stores whole batches, and refuses any batch holding a poisoned event id."""

    poisoned: set[str]
    stored: list[str] = field(default_factory=list)
    attempts: int = 0

    async def track(self, events: Sequence[TransitEvent], progress: Any = None) -> list[Timeline]:
        self.attempts += 1
        if any(str(e.event_id) in self.poisoned for e in events):
            raise ValueError("integer out of range")
        self.stored.extend(str(e.event_id) for e in events)
        return []


@dataclass
class FakeDeadLetters:
    isolated: list[DeadLetter] = field(default_factory=list)
    broken: bool = False

    async def isolate(self, letters: Sequence[DeadLetter]) -> None:
        if self.broken:
            raise RuntimeError("dead-letter topic unreachable")
        self.isolated.extend(letters)


class NoStates:
    def bind(self, events_by_consignment: dict[str, Any]) -> None:
        pass


def stream_event(offset: int, key: bytes, value: bytes, headers: Any) -> Any:
    message = SimpleNamespace(
        topic="corridor.transit-events",
        partition=0,
        offset=offset,
        key=key,
        value=value,
        headers=headers,
    )
    return SimpleNamespace(message=message)


def batch_of(events: Sequence[TransitEvent]) -> list[Any]:
    records = [to_kafka_record(e) for e in events]
    return [stream_event(i, r.key, r.value, list(r.headers)) for i, r in enumerate(records)]


def arrivals(count: int) -> list[TransitEvent]:
    return [
        event(EventType.GATE_ARRIVED, "CN-KHORGOS", i, consignment_id=f"C{i:04d}")
        for i in range(count)
    ]


class Acks(list[Sequence[Any]]):
    """The batches acked, in order."""


def loop_over(tracker: FakeTracker, dead_letters: FakeDeadLetters, acked: Acks) -> TrackingLoop:
    return TrackingLoop(tracker, NoStates(), dead_letters, acked.append, crash=crash)


async def test_a_poison_record_is_set_aside_and_the_rest_of_the_batch_stored() -> None:
    events = arrivals(50)
    poison = events[17]
    tracker, dead_letters, acked = FakeTracker({str(poison.event_id)}), FakeDeadLetters(), Acks()
    batch = batch_of(events)

    await loop_over(tracker, dead_letters, acked).settle(batch)

    assert sorted(tracker.stored) == sorted(str(e.event_id) for e in events if e is not poison)
    assert [(d.offset, d.consignment_id) for d in dead_letters.isolated] == [(17, "C0017")]
    assert "integer out of range" in dead_letters.isolated[0].error
    assert acked == [batch]
    assert tracker.attempts < 20  # bisected, not retried one by one


async def test_a_record_that_is_no_event_is_set_aside_with_the_decode_error() -> None:
    events = arrivals(3)
    batch = batch_of(events)
    batch.insert(1, stream_event(99, b"C-BAD", b"{not json", [("ce_specversion", b"1.0")]))
    tracker, dead_letters, acked = FakeTracker(set()), FakeDeadLetters(), Acks()

    await loop_over(tracker, dead_letters, acked).settle(batch)

    assert len(tracker.stored) == 3
    assert [(d.offset, d.value) for d in dead_letters.isolated] == [(99, b"{not json")]
    assert acked == [batch]


async def test_more_failures_than_poison_explains_stop_the_worker_unacked() -> None:
    events = arrivals(tracking_loop.MAX_DEAD_LETTERS_PER_BATCH + 1)
    tracker = FakeTracker({str(e.event_id) for e in events})
    dead_letters, acked = FakeDeadLetters(), Acks()

    with pytest.raises(Crashed):
        await loop_over(tracker, dead_letters, acked).settle(batch_of(events))

    assert acked == []
    assert dead_letters.isolated == []


async def test_a_failure_to_set_poison_aside_stops_the_worker_unacked() -> None:
    events = arrivals(4)
    tracker = FakeTracker({str(events[0].event_id)})
    dead_letters, acked = FakeDeadLetters(broken=True), Acks()

    with pytest.raises(Crashed):
        await loop_over(tracker, dead_letters, acked).settle(batch_of(events))

    assert acked == []


async def test_a_healthy_batch_is_stored_in_one_go_and_acked() -> None:
    events = arrivals(10)
    tracker, dead_letters, acked = FakeTracker(set()), FakeDeadLetters(), Acks()
    batch = batch_of(events)

    await loop_over(tracker, dead_letters, acked).settle(batch)

    assert tracker.attempts == 1
    assert len(tracker.stored) == 10
    assert dead_letters.isolated == []
    assert acked == [batch]


async def test_records_that_are_no_events_are_set_aside_however_many() -> None:
    # Bad input, not a fault of the tracker: no limit applies.
    count = tracking_loop.MAX_DEAD_LETTERS_PER_BATCH + 5
    batch = [stream_event(i, b"C-BAD", b"{not json", []) for i in range(count)]
    tracker, dead_letters, acked = FakeTracker(set()), FakeDeadLetters(), Acks()

    await loop_over(tracker, dead_letters, acked).settle(batch)

    assert len(dead_letters.isolated) == count
    assert acked == [batch]
    assert tracker.attempts == 0


@dataclass
class RestoredDatabase(FakeTracker):
    """A database restored from a backup: it holds partition 0 only up to offset 7."""

    progress: list[Any] = field(default_factory=list)

    async def track(self, events: Sequence[TransitEvent], progress: Any = None) -> list[Timeline]:
        self.progress.append(progress)
        raise DatabaseBehind({("corridor.transit-events", 0): 7})


async def test_a_database_behind_is_read_again_from_its_offsets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracking_loop, "REWIND_PAUSE_SECONDS", 0)
    tracker, dead_letters, acked = RestoredDatabase(set()), FakeDeadLetters(), Acks()
    rewound: list[Any] = []

    async def rewind(resume_at: Any) -> None:
        rewound.append(resume_at)

    loop = TrackingLoop(tracker, NoStates(), dead_letters, acked.append, crash=crash, rewind=rewind)
    batch = batch_of(arrivals(5))
    await loop.settle(batch)

    assert rewound == [{("corridor.transit-events", 0): 7}]
    assert acked == [batch]  # let go: the database's offsets say where to read from
    assert dead_letters.isolated == []  # no poison: nothing of it is bisected
    assert len(tracker.progress) == 1  # tried once, not bisected


def test_a_batchs_progress_counts_its_undecodable_records_in_the_next_offset() -> None:
    events = arrivals(3)
    batch = batch_of(events)
    batch.append(stream_event(3, b"C-BAD", b"{not json", []))

    progress = tracking_loop.progress_of(events, batch[:3], batch)

    assert progress == {
        ("corridor.transit-events", 0): PartitionProgress(events[2].occurred_at, next_offset=4)
    }
