"""The bench harness's simulated corridor: the same density at every scale, all in the past."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bench.harness import CONSIGNMENTS_A_DAY, ending_by, simulated


@pytest.mark.parametrize("days", [10.0, 26.7, 266.7, 1666.7])
def test_the_window_ends_before_today_whatever_its_length(days: float) -> None:
    # Ingest refuses events from the future; a 10M run's window spans ~4.6 years.
    now = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)
    start = ending_by(days, now)
    assert start.time() == datetime.min.time()
    assert start + timedelta(days=days) < datetime(2026, 11, 25, tzinfo=UTC)
    assert now - start < timedelta(days=days + 3)  # and not needlessly long ago


def test_a_run_is_simulated_at_the_same_density_and_in_the_past() -> None:
    result = simulated(40_000, seed=3)  # the smallest run above the 10-day floor
    days = (result.truth.end - result.truth.start).total_seconds() / 86_400
    assert result.summary.consignments / days == pytest.approx(CONSIGNMENTS_A_DAY, rel=0.01)
    assert max(d.event.occurred_at for d in result.deliveries) < datetime.now(UTC)
