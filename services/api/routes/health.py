"""Liveness, readiness (the database answers; the KPI rollups' freshness as detail) and
Prometheus metrics; no key needed."""

from __future__ import annotations

from datetime import datetime, timedelta

import psycopg
from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from psycopg_pool import PoolTimeout

from services.api import schemas
from services.api.deps import ApiContext, Context
from services.api.metrics import ApiMetrics
from services.api.openapi import UNAVAILABLE
from services.api.settings import ApiSettings
from services.common.problems import ProblemError
from storage.views import RollupStatus


def _ok(status: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {"application/json": {"example": {"status": status}}}}}


def rollup_health(
    status: RollupStatus, now: datetime, stale_after: timedelta
) -> schemas.RollupHealth:
    if status.consecutive_failures:
        state = "failing"
    elif status.refreshed_at is None:
        state = "never_refreshed"
    elif now - status.refreshed_at > stale_after:
        state = "stale"
    else:
        state = "fresh"
    return schemas.RollupHealth(
        rollup=status.rollup,
        state=state,
        as_of=status.refreshed_at,
        consecutive_failures=status.consecutive_failures,
        last_error=status.last_error,
    )


async def _rollup_statuses(context: ApiContext) -> tuple[RollupStatus, ...] | None:
    try:
        return await context.reads.rollup_status()
    except (psycopg.Error, PoolTimeout):
        return None


def build_router(metrics: ApiMetrics, settings: ApiSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])
    stale_after = timedelta(seconds=settings.api_kpi_stale_after_seconds)

    @router.get("/healthz", summary="The process is alive", responses=_ok("ok"))
    async def healthz() -> schemas.Status:
        return schemas.Status(status="ok")

    @router.get(
        "/readyz",
        summary="The database answers",
        responses={**_ok("ready"), 503: UNAVAILABLE},
    )
    async def readyz(context: Context) -> schemas.Status:
        if not await context.reads.ping():
            raise ProblemError(
                503,
                "database-unavailable",
                "Service unavailable",
                "database unreachable",
                headers={"Retry-After": "5"},
            )
        statuses = await _rollup_statuses(context) or ()
        now = context.now()
        return schemas.Status(
            status="ready", kpi_rollups=[rollup_health(s, now, stale_after) for s in statuses]
        )

    @router.get(
        "/metrics",
        summary="Prometheus metrics: requests and latency by route and status",
        response_class=Response,
        responses={
            200: {
                "content": {
                    CONTENT_TYPE_LATEST: {
                        "schema": {"type": "string"},
                        "example": 'api_requests_total{method="GET",route="/healthz",'
                        'status="200"} 3.0\n',
                    }
                }
            }
        },
    )
    async def metrics_endpoint(context: Context) -> Response:
        now = context.now()
        for status in await _rollup_statuses(context) or ():
            age = (now - status.refreshed_at).total_seconds() if status.refreshed_at else -1
            metrics.rollup_age.labels(status.rollup).set(age)
            metrics.rollup_failures.labels(status.rollup).set(status.consecutive_failures)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
