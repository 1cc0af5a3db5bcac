"""The API's per-process KPI report cache (pure; lives beside the API tests it serves)."""

from __future__ import annotations

from services.api.report_cache import ReportCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Counter:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> int:
        self.calls += 1
        return self.calls


async def test_a_value_is_reused_until_the_ttl_passes() -> None:
    clock, compute = Clock(), Counter()
    cache: ReportCache[int] = ReportCache(30, clock=clock)

    first = await cache.get("q", compute)
    clock.now = 29.9
    again = await cache.get("q", compute)
    clock.now = 30.0
    fresh = await cache.get("q", compute)

    assert (first, again, fresh) == (1, 1, 2)


async def test_no_key_or_no_ttl_always_computes() -> None:
    compute = Counter()
    off: ReportCache[int] = ReportCache(0)
    on: ReportCache[int] = ReportCache(30)

    assert [await off.get("q", compute), await off.get("q", compute)] == [1, 2]
    assert [await on.get(None, compute), await on.get(None, compute)] == [3, 4]


async def test_the_oldest_entries_go_beyond_the_size() -> None:
    compute = Counter()
    cache: ReportCache[int] = ReportCache(30, size=2, clock=Clock())

    for key in ("a", "b", "c"):
        await cache.get(key, compute)

    assert await cache.get("b", compute) == 2
    assert await cache.get("a", compute) == 4  # evicted, computed again
