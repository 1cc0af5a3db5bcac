"""Operators: corridor KPIs over a time range (dwell per location, CPMM TFI1, speeds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from services.api import examples, present, schemas
from services.api.deps import Context, Operator, Period, invalid, known_location
from services.api.openapi import FORBIDDEN, responses
from services.api.settings import ApiSettings
from storage.views import Granularity

LocationParam = Annotated[str | None, Query(max_length=40, examples=["KZ-NUR-ZHOLY"])]


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/performance", tags=["performance"])
    hourly_limit = timedelta(days=settings.api_max_hourly_range_days)

    @router.get(
        "/locations",
        summary="Dwell per location and time bucket: completed stays, mean, median, p90",
        description="Stays are bucketed by arrival time (UTC). Without `location`, every "
        f"location. `bucket=hour` allows ranges up to {settings.api_max_hourly_range_days} "
        "days. `in_progress_now` counts the open stays at each location at request time.",
        response_model=schemas.LocationPerformanceReport,
        responses=responses(examples.LOCATION_REPORT, FORBIDDEN),
    )
    async def locations(
        principal: Operator,
        context: Context,
        period: Period,
        location: LocationParam = None,
        bucket: Granularity = Granularity.DAY,
    ) -> schemas.LocationPerformanceReport:
        code = known_location(context, "location", location)
        if bucket is Granularity.HOUR and period.length > hourly_limit:
            raise invalid(
                "bucket",
                f"bucket=hour allows ranges up to {settings.api_max_hourly_range_days} days",
            )
        rows = await context.reads.locations_performance(period.start, period.end, bucket, code)
        queues = await context.reads.location_queues()
        return schemas.LocationPerformanceReport(
            range=present.time_range(period.start, period.end),
            bucket=bucket,
            items=[present.location_bucket(row, bucket) for row in rows],
            in_progress_now=[
                present.queue(q) for q in queues if code is None or q.location == code
            ],
        )

    @router.get(
        "/crossings",
        summary="CPMM TFI1 per border pair and direction: count, mean, median, p90",
        description="Crossings that started (arrival at the first side) within the range.",
        response_model=schemas.CrossingPerformanceReport,
        responses=responses(examples.CROSSING_REPORT, FORBIDDEN),
    )
    async def crossings(
        principal: Operator,
        context: Context,
        period: Period,
        border_id: Annotated[str | None, Query(max_length=80)] = None,
    ) -> schemas.CrossingPerformanceReport:
        rows = await context.reads.crossing_performance(period.start, period.end, border_id)
        return schemas.CrossingPerformanceReport(
            range=present.time_range(period.start, period.end),
            items=[present.crossing_item(row) for row in rows],
        )

    @router.get(
        "/legs",
        summary="Per leg: count, median travel time, median CPMM speeds (SWOD, SWD)",
        description="Legs that departed within the range.",
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
        rows = await context.reads.leg_performance(
            period.start,
            period.end,
            known_location(context, "origin", origin),
            known_location(context, "destination", destination),
        )
        return schemas.LegPerformanceReport(
            range=present.time_range(period.start, period.end),
            items=[present.leg_item(row) for row in rows],
        )

    return router
