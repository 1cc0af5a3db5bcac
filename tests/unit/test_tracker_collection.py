"""When the tracker worker collects garbage: between batches, and never too long apart."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.tracker.collection import BatchPacedCollection
from services.tracker.settings import TrackerSettings


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> _Clock:
    return _Clock()


@pytest.fixture
def collected() -> list[int]:
    return []


@pytest.fixture
def collection(clock: _Clock, collected: list[int]) -> Iterator[BatchPacedCollection]:
    def collect(generation: int) -> int:
        collected.append(generation)
        return 0

    paced = BatchPacedCollection(young_every=10.0, full_every=600.0, clock=clock, collect=collect)
    was_enabled = gc.isenabled()
    yield paced
    if paced.active:
        paced.hand_back()
    if was_enabled:
        gc.enable()


def test_taking_over_turns_automatic_collection_off_until_handed_back(
    collection: BatchPacedCollection,
) -> None:
    collection.take_over()
    assert not gc.isenabled()
    collection.hand_back()
    assert gc.isenabled()


def test_each_batch_collects_the_young_generations(
    collection: BatchPacedCollection, clock: _Clock, collected: list[int]
) -> None:
    collection.take_over()
    for _ in range(3):
        clock.now += 2
        collection.after_batch()
    assert collected == [1, 1, 1]


def test_everything_is_collected_once_the_full_interval_has_passed(
    collection: BatchPacedCollection, clock: _Clock, collected: list[int]
) -> None:
    collection.take_over()
    clock.now += 599
    collection.after_batch()
    clock.now += 1
    collection.after_batch()
    clock.now += 5
    collection.after_batch()
    assert collected == [1, 2, 1]


def test_an_idle_worker_still_collects_on_the_timer(
    collection: BatchPacedCollection, clock: _Clock, collected: list[int]
) -> None:
    collection.take_over()
    clock.now += 9
    collection.tick()  # a batch-less stretch shorter than young_every: nothing yet
    assert collected == []
    clock.now += 1
    collection.tick()
    assert collected == [1]
    clock.now += 5
    collection.after_batch()  # batches keep the timer quiet
    clock.now += 6
    collection.tick()
    assert collected == [1, 1]


def test_without_taking_over_nothing_is_collected_by_hand(
    collection: BatchPacedCollection, clock: _Clock, collected: list[int]
) -> None:
    # Tests and embedded apps run the tracker in a process they own: leave GC alone.
    clock.now += 700
    collection.after_batch()
    collection.tick()
    assert collected == []
    assert gc.isenabled()


def test_the_idle_timer_outwaits_the_longest_batch_window() -> None:
    # A collection in the middle of a batch walks everything the batch holds: the timer
    # must not fire while batches still end, however long the backlog window is set.
    longest = 60.0

    def settings(backlog_seconds: float) -> TrackerSettings:
        return TrackerSettings(
            kafka_bootstrap_servers="127.0.0.1:1",
            database_url="postgresql://tracker@127.0.0.1:1/none",
            tracker_backlog_batch_seconds=backlog_seconds,
        )

    settings(longest)
    with pytest.raises(ValueError, match="tracker_backlog_batch_seconds"):
        settings(longest + 1)
    default = BatchPacedCollection()
    assert default.young_every >= 2 * longest
    assert default.tick_every < default.young_every
