"""Liveness, readiness (the database answers) and Prometheus metrics; no key needed."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.api import schemas
from services.api.deps import Context
from services.api.metrics import ApiMetrics
from services.api.openapi import UNAVAILABLE
from services.common.problems import ProblemError


def _ok(status: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {"application/json": {"example": {"status": status}}}}}


def build_router(metrics: ApiMetrics) -> APIRouter:
    router = APIRouter(tags=["operations"])

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
        return schemas.Status(status="ready")

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
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
