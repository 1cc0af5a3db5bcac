"""Operators: corridor KPIs over a time range (dwell per location, CPMM TFI1, speeds)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Response

from services.api import examples, present, schemas
from services.api.deps import (
    ApiContext,
    Context,
    Operator,
    Period,
    TimeWindow,
    invalid,
    known_location,
)
from services.api.openapi import FORBIDDEN, responses
from services.api.report_cache import Dated, ReportCache
from storage.views import Granularity, Percentiles

T = TypeVar("T")
LocationParam = Annotated[str | None, Query(max_length=40, examples=["KZ-NUR-ZHOLY"])]


PRECISION = (
    "Median and p90 are exact (nearest rank) up to API_EXACT_PERCENTILES_MAX_DAYS (31 by "
    "default) days; longer ranges are read from the rollups: weekly location buckets stay "
    "exact, other medians and p90s come from merged quantile sketches (`percentiles: "
    "sketch`, within 1 %); counts and means are always exact. `as_of` says up to when the "
    "answer is complete."
)


def percentiles_for(
    context: ApiContext, period: TimeWindow, bucket: Granularity = Granularity.DAY
) -> Percentiles:
    """SKETCH: read from the rollups (hourly buckets have none, and short ranges anyway)."""
    exact_limit = timedelta(days=context.settings.api_exact_percentiles_max_days)
    if period.length > exact_limit and bucket is not Granularity.HOUR:
        return Percentiles.SKETCH
    return Percentiles.EXACT


async def as_of(context: ApiContext, percentiles: Percentiles, rollup: str) -> datetime | None:
    """When the answer is complete: the rollup's last successful refresh started, or
    now for the base tables (read before the answer, so never later than it)."""
    if percentiles is Percentiles.EXACT:
        return context.now()
    statuses = {s.rollup: s.refreshed_at for s in await context.reads.rollup_status()}
    return statuses.get(rollup)


async def report_items(
    context: ApiContext,
    cache: ReportCache[Dated[T]],
    percentiles: Percentiles,
    rollup: str,
    query: tuple[object, ...],
    items: Callable[[], Awaitable[T]],
) -> Dated[T]:
    """A report's items and when they are complete; only rollup answers are cached (see
    report_cache), under the query that asked for them."""

    async def read() -> Dated[T]:
        complete = await as_of(context, percentiles, rollup)
        return complete, await items()

    return await cache.get(query if percentiles is Percentiles.SKETCH else None, read)


router = APIRouter(prefix="/v1/performance", tags=["performance"])


@router.get(
    "/locations",
    summary="Dwell per location and time bucket: completed stays, mean, median, p90",
    description="Stays are bucketed by arrival time (UTC). Without `location`, every "
    "location. `bucket=hour` allows ranges up to API_MAX_HOURLY_RANGE_DAYS (31 by "
    "default) days. `in_progress_now` counts the open stays at each location at request "
    "time. " + PRECISION,
    response_model=schemas.LocationPerformanceReport,
    responses=responses(examples.LOCATION_REPORT, FORBIDDEN),
)
async def locations(
    principal: Operator,
    context: Context,
    period: Period,
    location: LocationParam = None,
    bucket: Granularity = Granularity.DAY,
) -> Response:
    code = known_location(context, "location", location)
    hourly_days = context.settings.api_max_hourly_range_days
    if bucket is Granularity.HOUR and period.length > timedelta(days=hourly_days):
        raise invalid("bucket", f"bucket=hour allows ranges up to {hourly_days} days")
    percentiles = percentiles_for(context, period, bucket)
    rollup = f"location_dwell_{'weekly' if bucket is Granularity.WEEK else 'daily'}"

    async def read() -> bytes:
        rows = await context.reads.locations_performance(
            period.start, period.end, bucket, code, percentiles
        )
        return present.location_items_json(rows, bucket)

    query = (period.start, period.end, bucket, code)
    cache = context.reports.locations
    complete, items = await report_items(context, cache, percentiles, rollup, query, read)
    queues = await context.reads.location_queues()
    # Written directly (a long range has many buckets); the document is the
    # response_model's, which stays the documented contract.
    body = present.location_report_json(
        period.start,
        period.end,
        bucket,
        # Weekly rollup rows hold each week's own exact percentiles.
        Percentiles.EXACT if bucket is Granularity.WEEK else percentiles,
        complete,
        items,
        [q for q in queues if code is None or q.location == code],
    )
    return Response(body, media_type="application/json")


@router.get(
    "/crossings",
    summary="CPMM TFI1 per border pair and direction: count, mean, median, p90",
    description="Crossings that started (arrival at the first side) within the range. " + PRECISION,
    response_model=schemas.CrossingPerformanceReport,
    responses=responses(examples.CROSSING_REPORT, FORBIDDEN),
)
async def crossings(
    principal: Operator,
    context: Context,
    period: Period,
    border_id: Annotated[str | None, Query(max_length=80)] = None,
) -> schemas.CrossingPerformanceReport:
    percentiles = percentiles_for(context, period)

    async def read() -> list[schemas.CrossingPerformanceItem]:
        rows = await context.reads.crossing_performance(
            period.start, period.end, border_id, percentiles
        )
        return [present.crossing_item(row) for row in rows]

    query = (period.start, period.end, border_id)
    cache = context.reports.crossings
    rollup = "crossing_time_daily"
    complete, items = await report_items(context, cache, percentiles, rollup, query, read)
    return schemas.CrossingPerformanceReport(
        range=present.time_range(period.start, period.end),
        percentiles=percentiles,
        as_of=complete,
        items=items,
    )


@router.get(
    "/legs",
    summary="Per leg: count, median travel time, median CPMM speeds (SWOD, SWD)",
    description="Legs that departed within the range. " + PRECISION,
    response_model=schemas.LegPerformanceReport,
    responses=responses(examples.LEG_REPORT, FORBIDDEN),
)
async def legs(
    principal: Operator,
    context: Context,
    period: Period,
    origin: LocationParam = None,
    destination: LocationParam = None,
) -> schemas.LegPerformanceReport:
    percentiles = percentiles_for(context, period)
    origin_code = known_location(context, "origin", origin)
    destination_code = known_location(context, "destination", destination)

    async def read() -> list[schemas.LegPerformanceItem]:
        rows = await context.reads.leg_performance(
            period.start, period.end, origin_code, destination_code, percentiles
        )
        return [present.leg_item(row) for row in rows]

    query = (period.start, period.end, origin_code, destination_code)
    cache = context.reports.legs
    complete, items = await report_items(context, cache, percentiles, "leg_time_daily", query, read)
    return schemas.LegPerformanceReport(
        range=present.time_range(period.start, period.end),
        percentiles=percentiles,
        as_of=complete,
        items=items,
    )
