"""Liveness, readiness (Kafka answers) and Prometheus metrics of ingest; no key needed."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from services.common.problems import Problem, ProblemError
from services.ingest.deps import Context

_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {"status": "ok"}}}}
}


router = APIRouter(tags=["operations"])


@router.get("/healthz", responses=_OK, summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Kafka is reachable",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        503: {
            "model": Problem,
            "description": "Kafka is not reachable",
            "content": {
                "application/problem+json": {
                    "example": {
                        "type": "/problems/broker-unavailable",
                        "title": "Service unavailable",
                        "status": 503,
                        "detail": "Kafka is not reachable",
                        "errors": [],
                    }
                }
            },
        },
    },
)
async def readyz(context: Context) -> dict[str, str]:
    if not await context.publisher.is_ready():
        raise ProblemError(
            503,
            "broker-unavailable",
            "Service unavailable",
            "Kafka is not reachable",
            headers={"Retry-After": str(context.settings.ingest_retry_after_seconds)},
        )
    return {"status": "ready"}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    responses={
        200: {
            "content": {
                CONTENT_TYPE_LATEST: {
                    "example": 'ingest_events_accepted_total{endpoint="events"} 42.0\n'
                }
            }
        }
    },
)
async def metrics_endpoint(context: Context) -> Response:
    return Response(generate_latest(context.metrics.registry), media_type=CONTENT_TYPE_LATEST)
