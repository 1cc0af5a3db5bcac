"""Percentiles as PostgreSQL computes them, the dwell histogram, and CPMM speeds."""

from __future__ import annotations

import bisect
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor import (
    DWELL_BUCKET_EDGES_SECONDS,
    DwellStats,
    build_timeline,
    dwell_stats,
    histogram,
    mean,
    median,
    p90,
    percentile,
    percentile_from_histogram,
    swd_kmh,
    swod_kmh,
    trip_speeds,
)
from tests.unit.factories import khorgos_to_aktau, reference, visit


def test_percentile_cont_interpolates_between_ranks() -> None:
    # SELECT percentile_cont(q) WITHIN GROUP (ORDER BY v) FROM unnest('{1,2,3,4}') v
    values = [4, 1, 3, 2]
    assert percentile(values, 0.5) == 2.5
    assert percentile(values, 0.9) == pytest.approx(3.7)
    assert percentile(values, 0) == 1
    assert percentile(values, 1) == 4
    assert percentile([7], 0.9) == 7


def test_percentile_of_nothing_is_null_and_fraction_is_checked() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        percentile([1], 1.5)


def test_dwell_stats() -> None:
    assert dwell_stats([3600, 7200, 10800]) == DwellStats(3, 7200, 7200, 10080)
    assert dwell_stats([]) == DwellStats(0, None, None, None)
    assert (mean([1, 2]), median([1, 2]), p90([0, 10])) == (1.5, 1.5, 9)


def test_histogram_buckets_are_half_open() -> None:
    counts = histogram([0, 899, 900, 3600, 400 * 3600])
    assert len(counts) == len(DWELL_BUCKET_EDGES_SECONDS)
    assert counts[:4] == (2, 1, 0, 1)
    assert counts[-1] == 1
    with pytest.raises(ValueError, match="negative"):
        histogram([-1])


def test_percentile_from_histogram_interpolates_within_the_bucket() -> None:
    hour = 3600
    counts = histogram([1.5 * hour] * 4)  # all four in the [1 h, 2 h) bucket
    assert percentile_from_histogram(counts, 0.5) == pytest.approx(1.5 * hour)
    assert percentile_from_histogram(counts, 0) == pytest.approx(1 * hour)
    assert percentile_from_histogram(counts, 1) == pytest.approx(2 * hour)
    assert percentile_from_histogram(histogram([]), 0.5) is None
    open_ended = histogram([500 * hour])
    assert percentile_from_histogram(open_ended, 0.9) == DWELL_BUCKET_EDGES_SECONDS[-1]


@given(
    st.lists(st.floats(min_value=0, max_value=400 * 3600), min_size=1, max_size=60),
    st.floats(min_value=0, max_value=1),
)
def test_histogram_percentile_lies_in_the_bucket_of_the_ranked_value(
    values: list[float], q: float
) -> None:
    approximate = percentile_from_histogram(histogram(values), q)
    ranked = sorted(values)[max(math.ceil(q * len(values)), 1) - 1]
    bucket = bisect.bisect_right(DWELL_BUCKET_EDGES_SECONDS, ranked) - 1
    edges = (*DWELL_BUCKET_EDGES_SECONDS, DWELL_BUCKET_EDGES_SECONDS[-1])
    assert approximate is not None
    assert edges[bucket] <= approximate <= edges[bucket + 1]


def test_cpmm_speeds() -> None:
    assert swd_kmh(1000, 50 * 3600) == 20
    assert swod_kmh(1000, 50 * 3600, 25 * 3600) == 40
    with pytest.raises(ValueError, match="positive"):
        swod_kmh(10, 3600, 3600)


def test_trip_speeds_over_a_journey() -> None:
    speeds = trip_speeds(build_timeline(khorgos_to_aktau(), reference()))
    # Khorgos 0-20 h, Nur Zholy 21-30 h, Aktau from 90 h; 2 + 3050 km.
    assert speeds.distance_km == 3052
    assert speeds.elapsed_seconds == 90 * 3600
    assert speeds.stopped_seconds == 29 * 3600
    assert speeds.swd_kmh == pytest.approx(3052 / 90)
    assert speeds.swod_kmh == pytest.approx(3052 / 61)


def test_trip_speeds_without_legs() -> None:
    speeds = trip_speeds(build_timeline(visit("KZ-AKTAU", 0, None), reference()))
    assert (speeds.distance_km, speeds.swd_kmh, speeds.swod_kmh) == (0, None, None)
