"""Prometheus request metrics on a registry of the app's own, by route template and status."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status"]
        self.requests = Counter(
            "api_requests", "HTTP requests answered", labels, registry=self.registry
        )
        self.latency = Histogram(
            "api_request_duration_seconds",
            "Time to answer an HTTP request",
            labels,
            registry=self.registry,
            buckets=_LATENCY_BUCKETS,
        )

        self.rollup_age = Gauge(
            "kpi_rollup_age_seconds",
            "Seconds since the KPI rollup's last successful refresh started",
            ["rollup"],
            registry=self.registry,
        )
        self.rollup_failures = Gauge(
            "kpi_rollup_consecutive_failures",
            "Failed refreshes or policy runs of the KPI rollup since its last success",
            ["rollup"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)


class RequestMetrics:
    """ASGI middleware: the route label is the matched template (`/v1/consignments/{id}`),
    never the raw path, so label cardinality stays bounded."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            matched = scope.get("route")
            # path_format drops convertors: `{consignment_id:path}` is `{consignment_id}`.
            route = str(
                getattr(matched, "path_format", None) or getattr(matched, "path", "unmatched")
            )
            self.metrics.observe(scope["method"], route, status, time.perf_counter() - started)
