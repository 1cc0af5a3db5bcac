"""OpenAPI response declarations with examples: success bodies and problem documents."""

from __future__ import annotations

from typing import Any

from services.common.problems import PROBLEM_MEDIA_TYPE, Problem

Responses = dict[int | str, dict[str, Any]]


def problem(
    status: int, slug: str, title: str, detail: str, field: str | None = None
) -> dict[str, Any]:
    errors = [{"field": field, "rule": detail.split(": ", 1)[-1]}] if field else []
    example = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "errors": errors,
    }
    return {
        "model": Problem,
        "description": title,
        "content": {PROBLEM_MEDIA_TYPE: {"example": example}},
    }


UNAUTHORIZED = problem(401, "unauthorized", "Unauthorized", "unknown or revoked API key")
FORBIDDEN = problem(403, "forbidden", "Forbidden", "role 'carrier' may not use this endpoint")
NOT_FOUND = problem(
    404,
    "consignment-not-found",
    "Not found",
    "no consignment 'MC-2026-000999' is visible to this key",
)
INVALID = problem(
    422, "invalid-request", "Invalid input", "from: must be before 'to'", field="from"
)
UNAVAILABLE = problem(503, "database-unavailable", "Service unavailable", "database unreachable")


def responses(example: Any, *problems: dict[str, Any]) -> Responses:
    """`responses=` for a route: the 200 example, then 401, 422 and the given problems."""
    declared: Responses = {200: {"content": {"application/json": {"example": example}}}}
    for problem in (UNAUTHORIZED, INVALID, *problems):
        status = problem["content"][PROBLEM_MEDIA_TYPE]["example"]["status"]
        declared[status] = problem
    return declared
