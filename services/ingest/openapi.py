"""The ingest OpenAPI document: request and response examples for every endpoint.

The routes read their bodies themselves (one object or an array, XML, foreign JSON
shapes), so the request schemas are declared here and added to the components.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from corridor.events import TransitEvent
from services.common.problems import PROBLEM_MEDIA_TYPE, Problem
from services.ingest.adapters import epermit, etir, ncts
from services.ingest.results import IngestResult

EXAMPLE_EVENT: dict[str, Any] = {
    "event_id": "3f1c0e4e-8a43-4c36-9f6e-0d3c1c3f7a10",
    "event_type": "gate.arrived",
    "occurred_at": "2026-11-20T06:15:00+05:00",
    "location": "KZ-NUR-ZHOLY",
    "consignment_id": "MC-2026-000123",
    "carrier_id": "carrier-kz-01",
    "references": {"tir_carnet": "XH12345678", "vehicle_plates": ["123ABC02"]},
    "source": {"system": "gate", "message_type": "GATE_IN", "message_id": "NZ-88231"},
    "attributes": {"direction": "inbound", "mode": "road"},
}
_SCHEMAS: dict[str, type[BaseModel]] = {
    "TransitEvent": TransitEvent,
    "EtirMessage": etir.EtirMessage,
    "EpermitPermitCreated": epermit.PermitCreated,
    "EpermitPermitUsed": epermit.PermitUsed,
    "EpermitPermitRevoked": epermit.PermitRevoked,
}
_REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF.format(model=name)}


_REQUESTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "events": (
        "application/json",
        {"oneOf": [_ref("TransitEvent"), {"type": "array", "items": _ref("TransitEvent")}]},
        {"one event": {"value": EXAMPLE_EVENT}, "a batch": {"value": [EXAMPLE_EVENT]}},
    ),
    "ncts": (
        "application/xml",
        {"type": "string", "description": "An NCTS P5/P6 message"},
        {"CC029C release for transit": {"value": ncts.EXAMPLE}},
    ),
    "epermit": (
        "application/json",
        {
            "oneOf": [
                _ref("EpermitPermitCreated"),
                _ref("EpermitPermitUsed"),
                _ref("EpermitPermitRevoked"),
            ]
        },
        {"PERMIT_USED": {"value": epermit.EXAMPLE}},
    ),
    "etir": ("application/json", _ref("EtirMessage"), {"I9 start": {"value": etir.EXAMPLE}}),
}
_SUMMARIES = {
    "events": "Publish canonical transit events (one object, or an array of up to {n})",
    "ncts": "Publish an NCTS phase 5/6 message (XML)",
    "epermit": "Publish an e-Permit ledger event (JSON)",
    "etir": "Publish an eTIR message (our JSON form of the eTIR message content)",
}


def _outcome(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "index": 0,
        "status": status,
        "event_id": "3f1c0e4e-8a43-4c36-9f6e-0d3c1c3f7a10",
        "errors": [],
        "warnings": [],
        "conflicts_with_earlier": False,
        **extra,
    }


def _problem(
    status: int, slug: str, title: str, detail: str, field: str | None = None
) -> dict[str, Any]:
    problem: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": [],
    }
    if field:
        problem["errors"] = [{"field": field, "rule": detail.split(": ", 1)[-1]}]
    return {
        "model": Problem,
        "description": title,
        "content": {PROBLEM_MEDIA_TYPE: {"example": problem}},
    }


_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {
        "description": "At least one event is durably in Kafka (acks=all); per-item results.",
        "content": {
            "application/json": {
                "example": {
                    "accepted": 1,
                    "duplicates": 0,
                    "rejected": 1,
                    "results": [
                        _outcome("accepted"),
                        {
                            **_outcome("rejected", index=1, event_id=None),
                            "errors": [
                                {
                                    "field": "location",
                                    "rule": "unknown corridor location 'KZ-NOWHERE'",
                                }
                            ],
                        },
                    ],
                }
            }
        },
    },
    200: {
        "model": IngestResult,
        "description": "Nothing new: every valid item was a re-send.",
        "content": {
            "application/json": {
                "example": {
                    "accepted": 0,
                    "duplicates": 1,
                    "rejected": 0,
                    "results": [_outcome("duplicate")],
                }
            }
        },
    },
    400: _problem(
        400,
        "malformed-body",
        "Bad request",
        "malformed JSON: Expecting value: line 1 column 1 (char 0)",
        "body",
    ),
    401: _problem(401, "unauthorized", "Unauthorized", "unknown or revoked API key"),
    403: _problem(
        403,
        "forbidden",
        "Forbidden",
        "this key may not publish for location 'TR-KAPIKULE'; nothing was published",
    ),
    409: _problem(
        409,
        "carrier-conflict",
        "Conflict",
        "carrier_id: differs from the carrier_id the consignment is fixed to",
        "carrier_id",
    ),
    413: _problem(
        413, "body-too-large", "Request body too large", "the body exceeds 2000000 bytes"
    ),
    422: _problem(
        422,
        "invalid-event",
        "Invalid input",
        "references.mrn: check digit is 5, expected 3",
        "references.mrn",
    ),
    503: _problem(
        503,
        "broker-unavailable",
        "Service unavailable",
        "the event log did not confirm the write; nothing was accepted, retry later",
    ),
}


def route(kind: str, max_batch: int) -> dict[str, Any]:
    """Keyword arguments of `router.post` for one ingest endpoint."""
    media_type, schema, examples = _REQUESTS[kind]
    return {
        "summary": _SUMMARIES[kind].format(n=max_batch),
        "status_code": 202,
        "response_model": IngestResult,
        "responses": _RESPONSES,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {media_type: {"schema": schema, "examples": examples}},
            }
        },
    }


def install(app: FastAPI) -> None:
    """Generate the document once, with the request schemas in its components."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, model in _SCHEMAS.items():
                schema = model.model_json_schema(by_alias=True, ref_template=_REF)
                schemas.update(schema.pop("$defs", {}))
                schemas[name] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]
