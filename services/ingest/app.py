"""The ingest FastAPI application, wired explicitly: nothing connects at import time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from corridor.reference import CorridorReference
from services.common.keys import KeyStore
from services.common.limits import BodyReadTimeout, BodySizeLimit, RejectNulInQuery
from services.common.problems import (
    FieldError,
    Problem,
    ProblemError,
    install_problem_handlers,
    problem_response,
)
from services.ingest import openapi
from services.ingest.adapters.base import MalformedMessage, UnsafeXml
from services.ingest.adapters.ncts_xsd import OfficialXsds
from services.ingest.directory import ConsignmentDirectory
from services.ingest.intake import EventIntake
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import EventPublisher
from services.ingest.routes import build_router
from services.ingest.settings import IngestSettings

DESCRIPTION = """\
Border crossing points, ports and customs systems publish transit events here.
Every request needs a publisher key (`Authorization: Bearer ...`) scoped to locations.
A 2xx means every accepted event is durably in Kafka (acks=all); a 503 means nothing was.
"""


def create_app(
    settings: IngestSettings,
    *,
    publisher: EventPublisher,
    key_store: KeyStore,
    reference: CorridorReference,
    directory: ConsignmentDirectory,
    now: Callable[[], datetime],
    ncts_xsds: OfficialXsds | None = None,
) -> FastAPI:
    app = FastAPI(title="Middle Corridor ingest", version="1.0.0", description=DESCRIPTION)
    app.state.key_store = key_store
    metrics = IngestMetrics.create()
    intake = EventIntake(
        reference,
        publisher,
        now,
        timedelta(seconds=settings.ingest_max_future_skew_seconds),
        carriers=directory,
    )
    install_problem_handlers(app)
    app.add_exception_handler(MalformedMessage, _on_malformed)
    app.add_middleware(BodySizeLimit, max_bytes=settings.ingest_max_body_bytes)
    app.add_middleware(BodyReadTimeout, seconds=settings.ingest_body_timeout_seconds)
    app.add_middleware(RejectNulInQuery)
    app.include_router(
        build_router(
            intake,
            directory,
            metrics,
            max_batch=settings.ingest_max_batch,
            max_xml_bytes=settings.ingest_max_xml_bytes,
            retry_after_seconds=settings.ingest_retry_after_seconds,
            ncts_xsds=ncts_xsds,
        )
    )
    _add_operational_routes(app, publisher, metrics, settings.ingest_retry_after_seconds)
    openapi.install(app)
    return app


async def _on_malformed(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MalformedMessage)
    slug, title = (
        ("unsafe-xml", "Unsafe XML")
        if isinstance(exc, UnsafeXml)
        else ("malformed-body", "Bad request")
    )
    return problem_response(
        Problem(
            type=f"/problems/{slug}",
            title=title,
            status=400,
            detail=str(exc),
            errors=[FieldError(field=exc.field, rule=exc.rule)],
        )
    )


_OK: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/json": {"example": {"status": "ok"}}}}
}


def _add_operational_routes(
    app: FastAPI, publisher: EventPublisher, metrics: IngestMetrics, retry_after: int
) -> None:
    @app.get("/healthz", tags=["operations"], responses=_OK, summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
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
    async def readyz() -> dict[str, str]:
        if not await publisher.is_ready():
            raise ProblemError(
                503,
                "broker-unavailable",
                "Service unavailable",
                "Kafka is not reachable",
                headers={"Retry-After": str(retry_after)},
            )
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["operations"],
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
    async def metrics_endpoint() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
