"""Instants are bounded where they enter: any instant and offset through the ingest API
is either inside the window (202) or a 422 naming `occurred_at`, never a 500; and every
duration two admitted instants can make fits the database's `integer` columns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor.events import (
    EARLIEST_INSTANT,
    INTEGER_COLUMN_MAX,
    LATEST_INSTANT,
    EventType,
)
from corridor.stays import derive_stays
from tests.unit.factories import T0
from tests.unit.factories import event as make_event
from tests.unit.test_ingest_api import NOW, Harness, event, make_harness

SKEW = timedelta(seconds=300)  # the ingest setting's default, which the harness keeps
OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def rfc3339(moment: datetime) -> str:
    """`moment` as written by a sender, in its own offset, for any year 1..9999."""
    offset = moment.utcoffset() or timedelta()
    sign = "-" if offset < timedelta() else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{moment.replace(tzinfo=None).isoformat()}{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def admitted(text: str) -> bool:
    moment = datetime.fromisoformat(text)
    # Compare without converting: the conversion itself overflows at the calendar's ends.
    return moment >= EARLIEST_INSTANT and moment <= NOW + SKEW


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    async for harness in make_harness():
        yield harness


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    local=st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59)),
    zone=OFFSETS,
)
async def test_any_instant_and_offset_is_accepted_or_a_422_naming_occurred_at(
    h: Harness, local: datetime, zone: timezone
) -> None:
    text = rfc3339(local.replace(tzinfo=zone))
    h.publisher.events.clear()
    response = await h.post("/v1/events", event(occurred_at=text))
    if admitted(text):
        assert response.status_code == 202, (text, response.text)
    else:
        assert response.status_code == 422, (text, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert {e["field"] for e in response.json()["errors"]} == {"occurred_at"}
        assert h.publisher.events == []


@pytest.mark.parametrize("epoch", [0, 1_763_600_000, "1763600000", 1.7636e9, -1, 2**63])
async def test_an_epoch_number_is_never_an_instant(h: Harness, epoch: object) -> None:
    response = await h.post("/v1/events", event(occurred_at=epoch))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "occurred_at"


async def test_the_1950_and_2026_poison_pair_is_refused(h: Harness) -> None:
    arrival = event(event_type="gate.arrived", occurred_at="1950-01-01T00:00:00Z")
    departure = event(
        event_type="gate.departed",
        occurred_at="2026-11-20T00:00:00Z",
        event_id="00000000-0000-4000-8000-00000000d0d0",
    )
    response = await h.post("/v1/events", [arrival, departure])
    assert response.status_code == 202  # a batch reports each item
    statuses = [item["status"] for item in response.json()["results"]]
    assert statuses == ["rejected", "accepted"]


def test_the_instant_window_is_narrower_than_an_integer_column() -> None:
    assert (LATEST_INSTANT - EARLIEST_INSTANT).total_seconds() < INTEGER_COLUMN_MAX


@given(
    arrived=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2067, 12, 31)),
    departed=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2067, 12, 31)),
)
def test_a_dwell_between_any_two_admitted_instants_fits_its_column(
    arrived: datetime, departed: datetime
) -> None:
    first, last = sorted((arrived.replace(tzinfo=UTC), departed.replace(tzinfo=UTC)))
    hours = [(moment - T0).total_seconds() / 3600 for moment in (first, last)]
    stays, _ = derive_stays(
        (
            make_event(EventType.GATE_ARRIVED, "KZ-NUR-ZHOLY", hours[0]),
            make_event(EventType.GATE_DEPARTED, "KZ-NUR-ZHOLY", hours[1]),
        )
    )
    [stay] = stays
    assert stay.dwell_seconds is not None
    assert 0 <= stay.dwell_seconds <= INTEGER_COLUMN_MAX
