"""When a batch closes, on a virtual clock: once its first record has spent the latency
budget while records are fresh, later (up to the backlog window) while they had waited
in Kafka, at once when full."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.tracker.batch_window import BatchWindow, fill_batch

HOUR = 3600.0
WINDOW = BatchWindow(max_events=1_000, within=1.0, backlog_within=15.0)


@dataclass
class Record:
    arrives_at: float  # when it reaches the taker's queue, on the virtual clock
    age: float  # how long it had been in Kafka when taken


@dataclass
class FakeTaker:
    """A queue of records arriving at set times; `now` moves only while a take waits."""

    records: list[Record]
    log_holds_more: bool = False  # what the consumer's highwater would say
    now: float = 0.0
    batch: list[Record] = field(default_factory=list)
    stopping: bool = False

    @property
    def taken(self) -> int:
        return len(self.batch)

    @property
    def newest_age(self) -> float:
        return self.batch[-1].age if self.batch else 0.0

    @property
    def oldest_age(self) -> float:
        return self.batch[0].age if self.batch else 0.0

    def clock(self) -> float:
        return self.now

    def take_waiting(self, limit: int) -> None:
        while len(self.batch) < limit and self.records and self.records[0].arrives_at <= self.now:
            self.batch.append(self.records.pop(0))

    async def take_next(self, seconds: float) -> bool:
        if self.records and self.records[0].arrives_at <= self.now + seconds:
            self.now = max(self.now, self.records[0].arrives_at)
            self.batch.append(self.records.pop(0))
            return True
        self.now += seconds
        return False

    def records_left(self) -> bool:
        return self.log_holds_more


def arriving(start: float, every: float, count: int, age: float) -> list[Record]:
    return [Record(start + i * every, age) for i in range(count)]


async def test_fresh_records_close_the_batch_a_budget_after_the_first() -> None:
    taker = FakeTaker(arriving(0.1, 0.4, 10, age=0.0))
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 3  # at 0.1, 0.5, 0.9; the one at 1.3 is the next batch's
    assert taker.now == pytest.approx(1.1)


async def test_with_no_record_within_the_budget_the_batch_stays_empty() -> None:
    taker = FakeTaker(arriving(2.5, 0.1, 10, age=0.0))
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 0
    assert taker.now == pytest.approx(1.0)


LIVE = BatchWindow(max_events=100_000, within=0.15, backlog_within=15.0, live_max_events=2_000)


async def test_under_steady_load_a_batch_closes_on_the_latency_budget() -> None:
    taker = FakeTaker(arriving(0.0, 0.001, 10_000, age=0.02))  # 1,000 events/s
    await fill_batch(taker, LIVE, taker.clock)
    # The first record had spent 20 ms in Kafka: 130 ms more of records arriving.
    assert taker.now == pytest.approx(0.13)
    assert taker.taken == pytest.approx(131, abs=1)


async def test_a_record_that_waited_past_the_budget_closes_the_batch_with_what_waits() -> None:
    # The previous batch took 0.3 s to store: 300 records wait, the oldest 0.3 s old.
    taker = FakeTaker(arriving(0.0, 0.001, 10_000, age=0.0), now=0.3)
    taker.records[:300] = [Record(r.arrives_at, 0.3 - r.arrives_at) for r in taker.records[:300]]
    await fill_batch(taker, LIVE, taker.clock)
    assert taker.now == 0.3
    assert taker.taken == 301


async def test_a_fresh_burst_closes_the_batch_at_the_live_size() -> None:
    taker = FakeTaker(arriving(0.0, 0.0, 10_000, age=0.0))
    await fill_batch(taker, LIVE, taker.clock)
    assert taker.taken == 2_000
    assert taker.now == 0.0


async def test_a_catch_up_fills_past_the_live_size() -> None:
    taker = FakeTaker(arriving(0.0, 0.0, 10_000, age=HOUR), log_holds_more=True)
    await fill_batch(taker, LIVE, taker.clock)
    assert taker.taken == 10_000


async def test_a_full_batch_closes_at_once() -> None:
    taker = FakeTaker(arriving(0.0, 0.0, 50, age=HOUR))
    await fill_batch(
        taker, BatchWindow(max_events=20, within=1.0, backlog_within=15.0), taker.clock
    )
    assert taker.taken == 20
    assert taker.now == 0.0


async def test_records_from_long_ago_keep_the_batch_filling_past_the_window() -> None:
    taker = FakeTaker(arriving(0.0, 0.05, 100, age=HOUR))  # a catch-up for 5 s
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 100
    assert 4.95 <= taker.now <= 5.1  # closed one quiet slice after the last record


async def test_a_catch_up_batch_closes_when_the_backlog_window_ends() -> None:
    taker = FakeTaker(arriving(0.0, 0.05, 10_000, age=HOUR), log_holds_more=True)
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.now == pytest.approx(15.0, abs=0.06)
    assert taker.taken == pytest.approx(300, abs=2)


async def test_a_quiet_slice_does_not_close_a_catch_up_batch_while_the_log_holds_more() -> None:
    records = [*arriving(0.0, 0.05, 30, age=HOUR), *arriving(3.0, 0.05, 30, age=HOUR)]
    taker = FakeTaker(records, log_holds_more=True)
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 60  # through 1.5 s without a record


async def test_a_quiet_slice_closes_a_catch_up_batch_at_the_end_of_the_log() -> None:
    records = [*arriving(0.0, 0.05, 30, age=HOUR), *arriving(3.0, 0.05, 30, age=HOUR)]
    taker = FakeTaker(records, log_holds_more=False)
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 30
    assert taker.now < 2.0


async def test_a_fresh_record_ends_a_catch_up_batch_within_a_slice() -> None:
    records = [*arriving(0.0, 0.05, 30, age=HOUR), *arriving(1.6, 0.05, 100, age=0.0)]
    taker = FakeTaker(records, log_holds_more=True)
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.batch[-1].age == 0.0  # caught up
    assert taker.now <= 1.6 + WINDOW.within * WINDOW.slice_share + 1e-9


async def test_a_stopping_taker_stops_filling() -> None:
    taker = FakeTaker(arriving(0.0, 0.05, 100, age=HOUR), stopping=True)
    await fill_batch(taker, WINDOW, taker.clock)
    assert taker.taken == 1
