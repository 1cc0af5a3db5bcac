"""The location report written directly as JSON (present.location_*_json) is, byte for byte,
what its response models (schemas.LocationPerformanceReport) serialise to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from services.api import present, schemas
from storage.views import Granularity, LocationPerformance, LocationQueueView, Percentiles

START = datetime(2026, 3, 2, tzinfo=UTC)
ITEMS = TypeAdapter(list[schemas.LocationBucket])

seconds = st.one_of(
    st.none(),
    st.floats(min_value=0, max_value=1e9, allow_nan=False),
    st.integers(min_value=0, max_value=10**7),  # an int where the model says float
    st.sampled_from([0.0, 1800.0, 0.00018, 1e-7, 123456.789012345, 2.5e8]),
)
views = st.builds(
    LocationPerformance,
    bucket=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
    ),
    location=st.sampled_from(["KZ-NUR-ZHOLY", "GE-POTI", 'Ärger "quoted" \\ ☃']),
    stays_count=st.integers(min_value=0, max_value=10**6),
    completed_count=st.integers(min_value=0, max_value=10**6),
    in_progress_count=st.integers(min_value=0, max_value=10**6),
    dwell_mean_seconds=seconds,
    dwell_median_seconds=seconds,
    dwell_p90_seconds=seconds,
)


def _models(rows: list[LocationPerformance], granularity: Granularity) -> bytes:
    return ITEMS.dump_json([present.location_bucket(row, granularity) for row in rows])


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(views, max_size=20), granularity=st.sampled_from(list(Granularity)))
def test_items_are_the_models_bytes(
    rows: list[LocationPerformance], granularity: Granularity
) -> None:
    assert present.location_items_json(rows, granularity) == _models(rows, granularity)


def test_a_year_of_weeks_with_repeated_buckets() -> None:
    rows = [
        LocationPerformance(
            START + timedelta(weeks=week), code, 10, 9, 1, 3600.5 * week, 1800.0, None
        )
        for code in ("CN-KHORGOS", "KZ-NUR-ZHOLY")
        for week in range(53)
    ]
    assert present.location_items_json(rows, Granularity.WEEK) == _models(rows, Granularity.WEEK)


def test_report_is_the_models_bytes() -> None:
    rows = [LocationPerformance(START, "CN-KHORGOS", 3, 2, 1, 5400.0, 3600.0, 7200.0)]
    queues = [LocationQueueView("CN-KHORGOS", 1, START + timedelta(hours=5, microseconds=7))]
    start, end = START - timedelta(days=365), START + timedelta(days=1, hours=3)
    for percentiles, as_of in zip(Percentiles, (None, START), strict=True):
        model = schemas.LocationPerformanceReport(
            range=present.time_range(start, end),
            bucket=Granularity.DAY,
            percentiles=percentiles,
            as_of=as_of,
            items=[present.location_bucket(row, Granularity.DAY) for row in rows],
            in_progress_now=[present.queue(q) for q in queues],
        )
        items = present.location_items_json(rows, Granularity.DAY)
        written = present.location_report_json(
            start, end, Granularity.DAY, percentiles, as_of, items, queues
        )
        assert written == model.model_dump_json(by_alias=True).encode()
        assert schemas.LocationPerformanceReport.model_validate_json(written) == model
