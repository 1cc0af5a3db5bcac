"""RFC 9457 problem details, shared by the HTTP services.

Every error leaves a service as `application/problem+json` naming the field and the
rule broken. Domain errors are mapped here once; routes raise, never format.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from corridor.errors import CorridorError

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE = "/problems/"  # relative type URIs; each is described in docs/problems.md


class FieldError(BaseModel):
    field: str = Field(examples=["references.mrn"])
    rule: str = Field(examples=["check digit is 3, not 5"])


class Problem(BaseModel):
    """The problem document of RFC 9457, with the field errors as an extension."""

    type: str = Field(examples=["/problems/invalid-event"])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.problem = Problem(
            type=PROBLEM_BASE + slug, title=title, status=status, detail=detail, errors=list(errors)
        )
        self.headers = headers or {}


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        problem.model_dump(exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def field_path(location: Sequence[Any]) -> str:
    """('body', 'references', 'mrn') -> 'references.mrn'; list indexes as [n]."""
    path = ""
    for part in location:
        if part in ("body", "query", "path", "header"):
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def validation_errors(errors: Sequence[Any]) -> list[FieldError]:
    return [FieldError(field=field_path(e["loc"]), rule=e["msg"]) for e in errors]


_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    408: "Request timeout",
    413: "Request body too large",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Too many requests",
    503: "Service unavailable",
}


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.problem, exc.headers)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = validation_errors(exc.errors())
        detail = "; ".join(f"{e.field}: {e.rule}" for e in errors[:5])
        return problem_response(
            Problem(
                type=PROBLEM_BASE + "invalid-request",
                title="Invalid input",
                status=422,
                detail=detail,
                errors=errors,
            )
        )

    async def on_domain(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CorridorError)
        return problem_response(
            Problem(
                type=PROBLEM_BASE + "invalid-input",
                title="Invalid input",
                status=422,
                detail=str(exc),
                errors=[FieldError(field=exc.field, rule=exc.rule)],
            )
        )

    async def on_http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        title = _TITLES.get(exc.status_code, "Error")
        slug = title.lower().replace(" ", "-")
        return problem_response(
            Problem(
                type=PROBLEM_BASE + slug,
                title=title,
                status=exc.status_code,
                detail=str(exc.detail) if exc.detail else None,
            ),
            dict(exc.headers or {}),
        )

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(CorridorError, on_domain)
    app.add_exception_handler(StarletteHTTPException, on_http)


PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}, "description": title}
    for status, title in _TITLES.items()
    if status in (401, 403, 404, 413, 422, 503)
}
