"""The clearance outlook: conditioned on the wait so far, never in the past, honest when thin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from corridor.clearance import MIN_COMPARABLE, clearance_outlook
from corridor.kpi import median, p90

ARRIVED = datetime(2026, 3, 10, 6, tzinfo=UTC)
HOUR = 3600.0
# 1 h, 2 h, ... 40 h: a location where stays take anything from an hour to two days.
DWELLS = [hour * HOUR for hour in range(1, 41)]


def test_on_arrival_every_recent_stay_is_comparable() -> None:
    outlook = clearance_outlook("KZ-NUR-ZHOLY", ARRIVED, ARRIVED, DWELLS)
    assert outlook.waited == timedelta(0)
    assert (outlook.recent_stays, outlook.comparable_stays) == (40, 40)
    assert outlook.expected_departure_at == ARRIVED + timedelta(hours=20)
    assert outlook.likely_departure_by == ARRIVED + timedelta(seconds=p90(DWELLS) or 0)
    assert not outlook.longer_than_usual


def test_a_long_wait_moves_the_estimate_to_the_stays_that_lasted_as_long() -> None:
    as_of = ARRIVED + timedelta(hours=15)
    outlook = clearance_outlook("KZ-NUR-ZHOLY", ARRIVED, as_of, DWELLS)
    longer = [d for d in DWELLS if d > 15 * HOUR]  # 16 h .. 40 h
    assert outlook.waited == timedelta(hours=15)
    assert outlook.comparable_stays == len(longer) == 25
    assert outlook.expected_departure_at == ARRIVED + timedelta(seconds=median(longer) or 0)
    assert outlook.expected_departure_at == ARRIVED + timedelta(hours=28)
    # Unconditioned, the median (nearest rank) would say 20 h: already behind this truck.
    assert outlook.expected_departure_at > as_of


def test_too_few_comparable_stays_give_no_estimate_but_say_how_many() -> None:
    as_of = ARRIVED + timedelta(hours=30)  # only 31 h .. 40 h lasted longer: 10 stays
    outlook = clearance_outlook("GE-SARPI", ARRIVED, as_of, DWELLS)
    assert (outlook.recent_stays, outlook.comparable_stays) == (40, 10)
    assert outlook.expected_departure_at is None
    assert outlook.likely_departure_by is None


def test_a_wait_beyond_the_recent_p90_is_longer_than_usual() -> None:
    usual_p90 = p90(DWELLS) or 0
    just_under = clearance_outlook("GE-SARPI", ARRIVED, ARRIVED + timedelta(hours=35), DWELLS)
    beyond = clearance_outlook(
        "GE-SARPI", ARRIVED, ARRIVED + timedelta(seconds=usual_p90 + 60), DWELLS
    )
    assert usual_p90 == 36 * HOUR  # nearest rank: the 36th of 40
    assert not just_under.longer_than_usual
    assert beyond.longer_than_usual


def test_a_quiet_location_is_never_called_unusual() -> None:
    few = DWELLS[: MIN_COMPARABLE - 1]
    outlook = clearance_outlook("AZ-ALAT", ARRIVED, ARRIVED + timedelta(days=10), few)
    assert outlook.recent_stays == MIN_COMPARABLE - 1
    assert not outlook.longer_than_usual
    assert outlook.expected_departure_at is None


def test_a_clock_behind_the_arrival_counts_no_wait() -> None:
    outlook = clearance_outlook("AZ-ALAT", ARRIVED, ARRIVED - timedelta(minutes=5), DWELLS)
    assert outlook.waited == timedelta(0)
    assert outlook.comparable_stays == 40


@given(
    dwells=st.lists(st.floats(min_value=60, max_value=30 * 86400), max_size=200),
    waited_hours=st.floats(min_value=0, max_value=24 * 40),
)
def test_an_estimate_is_never_in_the_past_and_p90_never_before_median(
    dwells: list[float], waited_hours: float
) -> None:
    as_of = ARRIVED + timedelta(hours=waited_hours)
    outlook = clearance_outlook("TR-KAPIKULE", ARRIVED, as_of, dwells)
    assert outlook.comparable_stays <= outlook.recent_stays == len(dwells)
    if outlook.expected_departure_at is None:
        assert outlook.comparable_stays < MIN_COMPARABLE
        return
    assert outlook.likely_departure_by is not None
    # timedelta keeps microseconds: a dwell a hair above the wait may round onto as_of.
    assert outlook.expected_departure_at >= as_of
    assert outlook.likely_departure_by >= outlook.expected_departure_at
