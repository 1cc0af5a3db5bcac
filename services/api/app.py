"""The API application, wired explicitly: nothing connects at import time."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from corridor.reference import CorridorReference
from services.api.deps import ApiContext
from services.api.metrics import ApiMetrics, RequestMetrics
from services.api.ports import ApiReads, WebhookEndpoints
from services.api.report_cache import KpiReportCaches
from services.api.routes import (
    alerts,
    consignments,
    health,
    locations,
    performance,
    track_page,
    webhooks,
)
from services.api.settings import ApiSettings
from services.api.track_session import SessionCodec
from services.common.eta import EtaStatistics
from services.common.keys import KeyStore
from services.common.limits import BodyReadTimeout, RejectNulInQuery
from services.common.problems import install_problem_handlers

DESCRIPTION = """\
Where consignments on the Middle Corridor are, and how the corridor performs.

Every `/v1` request needs an API key: `Authorization: Bearer mck_...`.
Roles: **carrier** keys see their own consignments and alerts only (another carrier's
consignment answers 404 exactly like an unknown one); **operator** keys see every
consignment, alert and KPI; **admin** keys manage keys (CLI) and read nothing here.
Errors are RFC 9457 problem documents (`application/problem+json`). Durations are in
seconds (and hours); timestamps are RFC 3339 in UTC. Listings page with an opaque
`cursor`; follow `links.next`.
"""


STATIC = Path(__file__).parent / "static"


def create_app(
    settings: ApiSettings,
    *,
    reads: ApiReads,
    key_store: KeyStore,
    reference: CorridorReference,
    now: Callable[[], datetime],
    eta_statistics: EtaStatistics | None = None,
    webhook_store: WebhookEndpoints | None = None,
) -> FastAPI:
    app = FastAPI(title="Middle Corridor API", version="1.0.0", description=DESCRIPTION)
    app.state.key_store = key_store
    app.state.webhooks = webhook_store
    app.state.track_sessions = SessionCodec(
        settings.api_session_secret or secrets.token_urlsafe(32),
        int(settings.api_session_hours * 3600),
    )
    context = ApiContext(
        settings=settings,
        reads=reads,
        reference=reference,
        now=now,
        metrics=ApiMetrics(),
        reports=KpiReportCaches(settings.api_kpi_cache_seconds),
        eta_statistics=eta_statistics,
    )
    app.state.context = context
    install_problem_handlers(app)
    app.add_middleware(RejectNulInQuery)
    app.add_middleware(BodyReadTimeout, seconds=settings.api_body_timeout_seconds)
    app.add_middleware(RequestMetrics, metrics=context.metrics)
    for module in (consignments, performance, alerts, locations, webhooks, health, track_page):
        app.include_router(module.router)
    app.mount("/track/static", StaticFiles(directory=STATIC), name="track-static")
    return app
