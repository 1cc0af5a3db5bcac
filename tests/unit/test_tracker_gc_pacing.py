"""When the tracker worker collects garbage: between batches, and never too long apart."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from services.tracker.gc_pacing import BatchPacedCollection
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
def collected() -> list[str]:
    return []


@pytest.fixture
def collection(clock: _Clock, collected: list[str]) -> Iterator[BatchPacedCollection]:
    def collect(generation: int) -> int:
        collected.append(f"collect {generation}")
        return 0

    paced = BatchPacedCollection(
        young_every=120.0,
        full_every=600.0,
        clock=clock,
        collect=collect,
        freeze=lambda: collected.append("freeze"),
        unfreeze=lambda: collected.append("unfreeze"),
    )
    was_enabled = gc.isenabled()
    yield paced
    if paced.active:
        gc.enable()  # not hand_back: it would unfreeze through the fake
    if was_enabled:
        gc.enable()


def test_taking_over_turns_automatic_collection_off_until_handed_back() -> None:
    collection = BatchPacedCollection()
    was_enabled = gc.isenabled()
    try:
        collection.take_over()
        assert not gc.isenabled()
        collection.hand_back()
        assert gc.isenabled()
    finally:
        if was_enabled:
            gc.enable()


def test_what_outlives_a_batch_is_set_aside_not_walked(
    collection: BatchPacedCollection, clock: _Clock, collected: list[str]
) -> None:
    collection.take_over()
    for _ in range(3):
        clock.now += 15
        collection.after_batch()
    assert collected == ["freeze", "freeze", "freeze"]


def test_everything_is_unfrozen_and_collected_once_the_full_interval_has_passed(
    collection: BatchPacedCollection, clock: _Clock, collected: list[str]
) -> None:
    collection.take_over()
    clock.now += 599
    collection.after_batch()
    clock.now += 1
    collection.after_batch()
    clock.now += 15
    collection.after_batch()
    assert collected == ["freeze", "unfreeze", "collect 2", "freeze"]


def test_the_timer_keeps_quiet_while_batches_end(
    collection: BatchPacedCollection, clock: _Clock, collected: list[str]
) -> None:
    collection.take_over()
    for _ in range(50):  # 50 batches of 15 s: the full interval passes meanwhile
        clock.now += 15
        collection.tick()
        collection.after_batch()
    assert "collect 1" not in collected
    assert collected.count("collect 2") == 1  # after a batch, never in the middle of one


def test_an_idle_worker_still_collects_on_the_timer(
    collection: BatchPacedCollection, clock: _Clock, collected: list[str]
) -> None:
    collection.take_over()
    clock.now += 119
    collection.tick()  # a batch-less stretch shorter than young_every: nothing yet
    assert collected == []
    clock.now += 1
    collection.tick()
    assert collected == ["collect 1"]
    clock.now += 60
    collection.tick()  # the next one waits young_every again
    assert collected == ["collect 1"]
    clock.now += 420  # 600 s since taking over, still no batch
    collection.tick()
    assert collected == ["collect 1", "unfreeze", "collect 2"]


def test_without_taking_over_nothing_is_collected_by_hand(
    collection: BatchPacedCollection, clock: _Clock, collected: list[str]
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


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the collector can free it


def test_a_cycle_left_by_a_batch_lives_until_the_next_full_collection(clock: _Clock) -> None:
    collection = BatchPacedCollection(clock=clock)  # the real collector
    was_enabled = gc.isenabled()
    collection.take_over()
    try:
        cycle = _Node()
        alive = weakref.ref(cycle)
        del cycle
        clock.now += 15
        collection.after_batch()
        assert alive() is not None  # set aside with the batch's survivors
        assert gc.get_freeze_count() > 0
        clock.now += 600
        collection.after_batch()
        assert alive() is None
    finally:
        collection.hand_back()
        if not was_enabled:
            gc.disable()
    assert gc.get_freeze_count() == 0


def _full_collection_times(found: list[int], seconds: int) -> list[float]:
    """When full collections ran, batches ending every 10 s for `seconds`."""
    results = iter(found)
    clock = _Clock()
    start = clock.now
    times: list[float] = []

    def collect(generation: int) -> int:
        if generation == 2:
            times.append(clock.now - start)
            return next(results)
        return 0

    collection = BatchPacedCollection(
        full_every=600.0,
        full_at_most=3000.0,
        clock=clock,
        collect=collect,
        freeze=lambda: None,
        unfreeze=lambda: None,
    )
    was_enabled = gc.isenabled()
    collection.take_over()
    try:
        for _ in range(seconds // 10):
            clock.now += 10
            collection.after_batch()
    finally:
        if was_enabled:
            gc.enable()
    return times


def test_full_collections_that_find_nothing_come_ever_more_rarely() -> None:
    # Each walks the whole history cache, stalling live traffic: spaced 600, 1200, 2400,
    # then the cap of 3000 s while the batches leave no garbage.
    assert _full_collection_times([0] * 10, 10_000) == [600, 1800, 4200, 7200]


def test_a_full_collection_that_finds_garbage_brings_the_next_back_to_the_first_interval() -> None:
    found = [0, 0, 50_000, 0, 0]
    assert _full_collection_times(found, 6_000) == [600, 1800, 4200, 4800, 6000]


def test_the_database_calls_of_a_batch_leave_no_garbage_for_the_full_collection() -> None:
    # The worker collects everything rarely: a call that leaves reference cycles (as a
    # retry loop's state did) would hold them until then.
    import asyncio

    from corridor.reference import load_reference
    from services.tracker.store import PostgresTrackingStore

    store = PostgresTrackingStore("postgresql://tracker@127.0.0.1:1/none", load_reference())

    async def answer() -> int:
        return 1

    async def calls() -> None:
        store._opened = True  # no connection: these calls do not use the pool
        for _ in range(100):
            assert await store._patiently(answer) == 1

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        asyncio.run(calls())
        assert gc.collect() == 0
    finally:
        if was_enabled:
            gc.enable()
