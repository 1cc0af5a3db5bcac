"""The ingest FastAPI application, wired explicitly: nothing connects at import time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from corridor.reference import CorridorReference
from services.common.keys import KeyStore
from services.common.limits import BodyReadTimeout, BodySizeLimit, RejectNulInQuery
from services.common.problems import (
    FieldError,
    Problem,
    install_problem_handlers,
    problem_response,
)
from services.ingest import openapi, operations, routes
from services.ingest.adapters.base import MalformedMessage, UnsafeXml
from services.ingest.adapters.ncts_xsd import OfficialXsds
from services.ingest.deps import IngestContext
from services.ingest.directory import ConsignmentDirectory
from services.ingest.intake import AcceptedEvents, EventIntake
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import EventPublisher
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
    accepted_events: AcceptedEvents | None = None,
) -> FastAPI:
    """`accepted_events`: what ingest accepted so far (shared by its processes); by
    default this process's recent events only."""
    app = FastAPI(title="Middle Corridor ingest", version="1.0.0", description=DESCRIPTION)
    app.state.key_store = key_store
    metrics = IngestMetrics.create()
    intake = EventIntake(
        reference,
        publisher,
        now,
        timedelta(seconds=settings.ingest_max_future_skew_seconds),
        carriers=directory,
        accepted=accepted_events,
    )
    install_problem_handlers(app)
    app.add_exception_handler(MalformedMessage, _on_malformed)
    app.add_middleware(BodySizeLimit, max_bytes=settings.ingest_max_body_bytes)
    app.add_middleware(BodyReadTimeout, seconds=settings.ingest_body_timeout_seconds)
    app.add_middleware(RejectNulInQuery)
    app.state.context = IngestContext(
        settings=settings,
        intake=intake,
        directory=directory,
        publisher=publisher,
        metrics=metrics,
        ncts_xsds=ncts_xsds,
    )
    app.include_router(routes.router)
    app.include_router(operations.router)
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
