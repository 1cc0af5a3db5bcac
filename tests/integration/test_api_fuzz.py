"""Property-based fuzz of the OpenAPI document (schemathesis) against the app on a real
database, with an operator key: no 5xx, and every response conforms to the document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from corridor.events import TransitEvent
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest.in_memory import InMemoryKeyStore
from simulator import SimulationResult
from storage.db import create_pool
from storage.queries.api import ApiQueries

pytestmark = pytest.mark.integration

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
OPERATIONS = [
    "/v1/consignments/{consignment_id}",
    "/v1/consignments/{consignment_id}/timeline",
    "/v1/consignments",
    "/v1/performance/locations",
    "/v1/performance/crossings",
    "/v1/performance/legs",
    "/v1/alerts",
    "/v1/locations",
    "/v1/webhooks/endpoints",
    "/v1/webhooks/endpoints/{endpoint_id}",
    "/v1/webhooks/endpoints/{endpoint_id}/rotate-secret",
    "/v1/webhooks/endpoints/{endpoint_id}/dead-letters",
    "/v1/webhooks/endpoints/{endpoint_id}/dead-letters/replay",
    "/healthz",
    "/readyz",
    "/metrics",
]
# Operations other than GET; with an operator key they all answer 403 (carriers' only).
WRITES = {
    "/v1/webhooks/endpoints": ("POST",),
    "/v1/webhooks/endpoints/{endpoint_id}": ("PATCH", "DELETE"),
    "/v1/webhooks/endpoints/{endpoint_id}/rotate-secret": ("POST",),
    "/v1/webhooks/endpoints/{endpoint_id}/dead-letters/replay": ("POST",),
}
METHODS = {
    path: (*(() if path.endswith(("rotate-secret", "replay")) else ("GET",)), *WRITES.get(path, ()))
    for path in OPERATIONS
}
Fuzzed = tuple[Any, httpx.AsyncClient, str]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fuzzed(
    populated_database_url: str, sample_run: tuple[SimulationResult, list[TransitEvent]]
) -> AsyncIterator[Fuzzed]:
    truth = sample_run[0].truth
    keys = InMemoryKeyStore()
    operator_key = keys.add("fuzz", Role.OPERATOR)
    async with create_pool(populated_database_url, min_size=1, max_size=4) as pool:
        app = create_app(
            ApiSettings(database_url=populated_database_url),
            reads=ApiQueries(pool),
            key_store=keys,
            reference=load_reference(),
            now=lambda: truth.end,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield schemathesis.openapi.from_dict(app.openapi()), client, operator_key


def test_every_operation_is_fuzzed(fuzzed: Fuzzed) -> None:
    assert {result.ok().path for result in fuzzed[0].get_all_operations()} == set(OPERATIONS)


# schemathesis' pytest plugin does not run on pytest 9, nor its transports with the
# installed urllib3/starlette: hypothesis drives each operation's strategy on a worker
# thread, and the requests go to the app through httpx on the test's event loop.
@pytest.mark.filterwarnings(
    # schemathesis' strategies draw from `random`; a notice to it, not to us.
    "ignore:Do not use the `random` module inside strategies"
    ":hypothesis.errors.HypothesisDeprecationWarning"
)
@pytest.mark.parametrize(
    ("path", "method", "mode"),
    [
        *((p, m, GenerationMode.POSITIVE) for p in OPERATIONS for m in METHODS[p]),
        # Operations with parameters: invalid input must be a 4xx problem, never a 5xx.
        *(
            (p, m, GenerationMode.NEGATIVE)
            for p in OPERATIONS
            if p.startswith("/v1/")
            for m in METHODS[p]
        ),
    ],
)
async def test_no_server_errors_and_responses_conform(
    fuzzed: Fuzzed, path: str, method: str, mode: GenerationMode
) -> None:
    schema, client, key = fuzzed
    headers = {"Authorization": f"Bearer {key}"}
    loop = asyncio.get_running_loop()

    @given(case=schema[path][method].as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: Any) -> None:
        has_body = method != "GET" and isinstance(case.body, dict | list | str | int | float)
        body = {"json": case.body} if has_body else {}
        request = client.request(
            method,
            case.formatted_path,
            params=case.query,
            headers={**(case.headers or {}), **headers},
            **body,
        )
        response = asyncio.run_coroutine_threadsafe(request, loop).result(timeout=30)
        assert response.status_code < 500, (case.as_curl_command(headers), response.text)
        case.validate_response(response, checks=CHECKS, headers=headers)

    await asyncio.to_thread(fuzz)
