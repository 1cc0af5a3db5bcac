"""Operators: corridor KPIs over a time range (dwell per location, CPMM TFI1, speeds)."""

from __future__ import annotations

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
from services.api.report_cache import ReportCache
from services.api.settings import ApiSettings
from storage.views import Granularity, Percentiles

T = TypeVar("T")
Dated = tuple[datetime | None, T]  # an answer and when it is complete
LocationParam = Annotated[str | None, Query(max_length=40, examples=["KZ-NUR-ZHOLY"])]


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/performance", tags=["performance"])
    hourly_limit = timedelta(days=settings.api_max_hourly_range_days)
    exact_limit = timedelta(days=settings.api_exact_percentiles_max_days)
    precision = (
        f"Median and p90 are exact (nearest rank) up to "
        f"{settings.api_exact_percentiles_max_days} days; longer ranges are read from the "
        "rollups: weekly location buckets stay exact, other medians and p90s come from "
        "merged quantile sketches (`percentiles: sketch`, within 1 %); counts and means are "
        "always exact. `as_of` says up to when the answer is complete."
    )

    # Presented items per query with their as-of; only rollup answers are kept (see
    # report_cache). Location items are kept as their JSON (present.location_items_json).
    ttl = settings.api_kpi_cache_seconds
    location_items: ReportCache[Dated[bytes]] = ReportCache(ttl)
    crossing_items: ReportCache[Dated[list[schemas.CrossingPerformanceItem]]] = ReportCache(ttl)
    leg_items: ReportCache[Dated[list[schemas.LegPerformanceItem]]] = ReportCache(ttl)

    def cache_key(percentiles: Percentiles, *query: object) -> tuple[object, ...] | None:
        return query if percentiles is Percentiles.SKETCH else None

    def percentiles_for(period: TimeWindow, bucket: Granularity = Granularity.DAY) -> Percentiles:
        """SKETCH: read from the rollups (hourly buckets have none, and short ranges anyway)."""
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

    @router.get(
        "/locations",
        summary="Dwell per location and time bucket: completed stays, mean, median, p90",
        description="Stays are bucketed by arrival time (UTC). Without `location`, every "
        f"location. `bucket=hour` allows ranges up to {settings.api_max_hourly_range_days} "
        "days. `in_progress_now` counts the open stays at each location at request time. "
        + precision,
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
        if bucket is Granularity.HOUR and period.length > hourly_limit:
            raise invalid(
                "bucket",
                f"bucket=hour allows ranges up to {settings.api_max_hourly_range_days} days",
            )
        percentiles = percentiles_for(period, bucket)
        rollup = f"location_dwell_{'weekly' if bucket is Granularity.WEEK else 'daily'}"

        async def read() -> Dated[bytes]:
            complete = await as_of(context, percentiles, rollup)
            rows = await context.reads.locations_performance(
                period.start, period.end, bucket, code, percentiles
            )
            return complete, present.location_items_json(rows, bucket)

        key = cache_key(percentiles, period.start, period.end, bucket, code)
        complete, items = await location_items.get(key, read)
        queues = await context.reads.location_queues()
        # Written directly (a year by week is ~1.3k buckets); the document is the
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
        description="Crossings that started (arrival at the first side) within the range. "
        + precision,
        response_model=schemas.CrossingPerformanceReport,
        responses=responses(examples.CROSSING_REPORT, FORBIDDEN),
    )
    async def crossings(
        principal: Operator,
        context: Context,
        period: Period,
        border_id: Annotated[str | None, Query(max_length=80)] = None,
    ) -> schemas.CrossingPerformanceReport:
        percentiles = percentiles_for(period)

        async def read() -> Dated[list[schemas.CrossingPerformanceItem]]:
            complete = await as_of(context, percentiles, "crossing_time_daily")
            rows = await context.reads.crossing_performance(
                period.start, period.end, border_id, percentiles
            )
            return complete, [present.crossing_item(row) for row in rows]

        key = cache_key(percentiles, period.start, period.end, border_id)
        complete, items = await crossing_items.get(key, read)
        return schemas.CrossingPerformanceReport(
            range=present.time_range(period.start, period.end),
            percentiles=percentiles,
            as_of=complete,
            items=items,
        )

    @router.get(
        "/legs",
        summary="Per leg: count, median travel time, median CPMM speeds (SWOD, SWD)",
        description="Legs that departed within the range. " + precision,
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
        percentiles = percentiles_for(period)
        origin_code = known_location(context, "origin", origin)
        destination_code = known_location(context, "destination", destination)

        async def read() -> Dated[list[schemas.LegPerformanceItem]]:
            complete = await as_of(context, percentiles, "leg_time_daily")
            rows = await context.reads.leg_performance(
                period.start, period.end, origin_code, destination_code, percentiles
            )
            return complete, [present.leg_item(row) for row in rows]

        key = cache_key(percentiles, period.start, period.end, origin_code, destination_code)
        complete, items = await leg_items.get(key, read)
        return schemas.LegPerformanceReport(
            range=present.time_range(period.start, period.end),
            percentiles=percentiles,
            as_of=complete,
            items=items,
        )

    return router
