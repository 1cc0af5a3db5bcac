"""A mergeable quantile sketch with a bounded relative error (DDSketch-style log buckets).

A value ``x > 0`` falls in bucket ``key(x) = ceil(KEYS_PER_E * ln x)``, i.e. buckets are
``(γ^(k-1), γ^k]`` with ``γ = e^(1/KEYS_PER_E)``; bucket ``k`` answers with
``2γ^k / (γ + 1)``, which is within ``(γ - 1)/(γ + 1) = tanh(1 / (2 KEYS_PER_E))`` of
every value in it (``RELATIVE_ACCURACY`` < 1 %). Values ``<= 0`` share ``ZERO_KEY`` and
answer 0. Sketches merge by adding counts per key, so hours add up to days, days to
weeks and years, exactly as the values would, with the same error bound at any range.

The SQL functions ``kpi_sketch_key`` and ``kpi_sketch_value`` (migration 0011) are this
module's ``key`` and ``value`` with the same constants; tests hold them equal.
Quantiles use one definition everywhere, nearest rank (``corridor.kpi.percentile``,
PostgreSQL's ``percentile_disc``): the value at rank ``max(1, ceil(q * n))``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

KEYS_PER_E = 50
GAMMA = math.exp(1 / KEYS_PER_E)
RELATIVE_ACCURACY = (GAMMA - 1) / (GAMMA + 1)
ZERO_KEY = -1_000_000


def key(value: float) -> int:
    """The bucket of ``value`` (SQL ``kpi_sketch_key``)."""
    if value <= 0:
        return ZERO_KEY
    return math.ceil(KEYS_PER_E * math.log(value))


def value(bucket_key: int) -> float:
    """What bucket ``bucket_key`` answers (SQL ``kpi_sketch_value``)."""
    if bucket_key == ZERO_KEY:
        return 0.0
    return 2 * math.exp(bucket_key / KEYS_PER_E) / (1 + math.exp(1 / KEYS_PER_E))


def rank(q: float, count: int) -> int:
    """Nearest rank (1-based) of fraction ``q`` among ``count`` values, as
    ``percentile_disc`` computes it."""
    if not 0 <= q <= 1:
        raise ValueError(f"percentile fraction must be within [0, 1], got {q}")
    return max(1, math.ceil(q * count))


@dataclass(frozen=True, slots=True)
class Sketch:
    """Counts per bucket key plus the exact count and sum of the values."""

    counts: Mapping[int, int]
    count: int
    total: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Sketch:
        listed = list(values)
        return cls(dict(Counter(key(v) for v in listed)), len(listed), math.fsum(listed))

    @classmethod
    def from_arrays(
        cls, keys: Iterable[int] | None, counts: Iterable[int] | None, total: float = 0.0
    ) -> Sketch:
        """A sketch from the ``*_sketch_keys``/``*_sketch_counts`` columns of a rollup."""
        merged: Counter[int] = Counter()
        for bucket_key, n in zip(keys or (), counts or (), strict=True):
            merged[bucket_key] += n
        return cls(dict(merged), sum(merged.values()), total)

    def merge(self, other: Sketch) -> Sketch:
        merged = Counter(self.counts)
        merged.update(other.counts)
        return Sketch(dict(merged), self.count + other.count, self.total + other.total)

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def quantile(self, q: float) -> float | None:
        """Nearest-rank quantile, within ``RELATIVE_ACCURACY`` of the exact one."""
        if not self.count:
            return None
        target, seen = rank(q, self.count), 0
        for bucket_key in sorted(self.counts):
            seen += self.counts[bucket_key]
            if seen >= target:
                return value(bucket_key)
        raise ValueError("the bucket counts add up to less than the sketch's count")
