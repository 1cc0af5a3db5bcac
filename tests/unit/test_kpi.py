"""Nearest-rank percentiles, the quantile sketch, and CPMM speeds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor import (
    RELATIVE_ACCURACY,
    DwellStats,
    Sketch,
    build_timeline,
    dwell_stats,
    mean,
    median,
    p90,
    percentile,
    sketch,
    swd_kmh,
    swod_kmh,
    trip_speeds,
)
from tests.unit.factories import khorgos_to_aktau, reference, visit

MINUTE, DAY = 60, 86_400


def test_percentile_is_the_nearest_rank() -> None:
    # SELECT percentile_disc(q) WITHIN GROUP (ORDER BY v) FROM unnest('{1,2,3,4}') v
    values = [4, 1, 3, 2]
    assert percentile(values, 0.5) == 2
    assert percentile(values, 0.9) == 4
    assert percentile(values, 0.75) == 3
    assert percentile(values, 0) == 1
    assert percentile(values, 1) == 4
    assert percentile([7], 0.9) == 7


def test_percentile_of_nothing_is_null_and_fraction_is_checked() -> None:
    assert percentile([], 0.5) is None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        percentile([1], 1.5)


def test_dwell_stats() -> None:
    assert dwell_stats([3600, 7200, 10800]) == DwellStats(3, 7200, 7200, 10800)
    assert dwell_stats([]) == DwellStats(0, None, None, None)
    assert (mean([1, 2]), median([1, 2]), p90([0, 10])) == (1.5, 1, 10)


def test_the_sketch_is_within_one_percent_by_construction() -> None:
    assert RELATIVE_ACCURACY < 0.01
    assert sketch.value(sketch.key(3600)) == pytest.approx(3600, rel=RELATIVE_ACCURACY)
    assert sketch.key(0) == sketch.key(-5) == sketch.ZERO_KEY
    assert sketch.value(sketch.ZERO_KEY) == 0


def test_sketch_counts_sums_and_merges_exactly() -> None:
    day1, day2 = Sketch.of([60, 3600, 3600]), Sketch.of([7200])
    week = day1.merge(day2)
    assert (week.count, week.total, week.mean) == (4, 14460, 3615)
    assert week == Sketch.of([60, 3600, 3600, 7200])
    assert Sketch.of([]).quantile(0.5) is None
    assert Sketch.from_arrays([5, 5, 7], [1, 2, 3]).counts == {5: 3, 7: 3}


# Dwell-like samples: mostly hours, a long tail of days, spikes of identical values.
skewed_seconds = st.one_of(
    st.floats(min_value=MINUTE, max_value=60 * DAY),
    st.floats(min_value=math.log(MINUTE), max_value=math.log(60 * DAY)).map(math.exp),
    st.integers(min_value=MINUTE, max_value=6 * 3600).map(float),
)


@given(
    st.lists(skewed_seconds, min_size=1, max_size=300),
    st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=5),
)
def test_every_sketch_percentile_is_within_one_percent_of_the_exact_one(
    values: list[float], fractions: list[float]
) -> None:
    whole = Sketch.of(values)
    halves = Sketch.of(values[::2]).merge(Sketch.of(values[1::2]))
    for q in (0.5, 0.9, *fractions):
        exact = percentile(values, q)
        assert exact is not None
        for approximate in (whole.quantile(q), halves.quantile(q)):
            assert approximate == pytest.approx(exact, rel=0.01)


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
