"""Request dependencies, as `Annotated` aliases: the context `create_app` built (`Context`,
`Reads`), who is calling (`Reader`, `Operator`), and the validated query parameters
shared by several routes (`Period`, `PageLimit`). Routes read as
`principal: Reader, reads: Reads, period: Period`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from pydantic import AwareDatetime

from corridor.reference import CorridorReference
from services.api.metrics import ApiMetrics
from services.api.ports import ApiReads
from services.api.report_cache import KpiReportCaches
from services.api.settings import ApiSettings
from services.common.auth import forbidden, require_roles
from services.common.eta import EtaStatistics
from services.common.keys import Principal, Role
from services.common.problems import FieldError, ProblemError

# Outside these, bucket arithmetic would overflow Python's datetime.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
_BOUNDS_TEXT = "between 1970-01-01T00:00:00Z and 9999-01-01T00:00:00Z (exclusive)"
# The same bounds, stated in the OpenAPI document, so clients and fuzzers see them.
INSTANT_BOUNDS = {
    "formatMinimum": "1970-01-01T00:00:00Z",
    "formatExclusiveMaximum": "9999-01-01T00:00:00Z",
}


def instant_query(description: str, **kwargs: object) -> Any:
    """A `Query` for an RFC 3339 instant, with the bounds `within_bounds` enforces."""
    return Query(
        description=f"{description} RFC 3339 with offset, {_BOUNDS_TEXT}.",
        json_schema_extra=INSTANT_BOUNDS,
        **kwargs,  # type: ignore[arg-type]
    )


@dataclass(frozen=True)
class ApiContext:
    """What `create_app` was given and built once, for the routes: one per app."""

    settings: ApiSettings
    reads: ApiReads
    reference: CorridorReference
    now: Callable[[], datetime]
    metrics: ApiMetrics
    reports: KpiReportCaches
    eta_statistics: EtaStatistics | None = None

    @property
    def base(self) -> str:
        return self.settings.link_base


def _context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def _reads(request: Request) -> ApiReads:
    return _context(request).reads


Context = Annotated[ApiContext, Depends(_context)]
Reads = Annotated[ApiReads, Depends(_reads)]
Reader = Annotated[Principal, Depends(require_roles(Role.CARRIER, Role.OPERATOR))]
Operator = Annotated[Principal, Depends(require_roles(Role.OPERATOR))]


def invalid(field: str, rule: str) -> ProblemError:
    """A 422 naming the query parameter and the rule it broke."""
    return ProblemError(
        422,
        "invalid-request",
        "Invalid input",
        f"{field}: {rule}",
        [FieldError(field=field, rule=rule)],
    )


def carrier_scope(principal: Principal) -> str | None:
    """The carrier a caller is confined to; None means every carrier (operators)."""
    if principal.role is not Role.CARRIER:
        return None
    if not principal.carrier_id:
        raise forbidden("this carrier key is not bound to a carrier")
    return principal.carrier_id


def known_location(context: ApiContext, field: str, code: str | None) -> str | None:
    if code is not None and not context.reference.has_location(code):
        raise invalid(field, f"unknown corridor location {code!r}; see /v1/locations")
    return code


def within_bounds(field: str, moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise invalid(field, f"must be {_BOUNDS_TEXT}")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class TimeWindow:
    start: datetime
    end: datetime

    @property
    def length(self) -> timedelta:
        return self.end - self.start


FromParam = Annotated[
    AwareDatetime | None,
    instant_query(
        "Start (inclusive); default `to` minus API_DEFAULT_RANGE_DAYS (30). `from` to `to` "
        "may span at most API_MAX_RANGE_DAYS (400 by default) days.",
        alias="from",
        examples=["2026-03-01T00:00:00Z"],
    ),
]
ToParam = Annotated[
    AwareDatetime | None,
    instant_query("End (exclusive); default now.", alias="to", examples=["2026-04-01T00:00:00Z"]),
]


def _time_window(context: Context, start: FromParam = None, end: ToParam = None) -> TimeWindow:
    settings = context.settings
    end = within_bounds("to", end) if end is not None else context.now()
    if start is None:
        start = max(end - timedelta(days=settings.api_default_range_days), EARLIEST)
    start = within_bounds("from", start)
    if start >= end:
        raise invalid("from", "must be before 'to'")
    if end - start > timedelta(days=settings.api_max_range_days):
        raise invalid("to", f"the range may span at most {settings.api_max_range_days} days")
    return TimeWindow(start, end)


Period = Annotated[TimeWindow, Depends(_time_window)]


def _page_limit(
    context: Context,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Items per page: default API_PAGE_SIZE_DEFAULT (50), at most "
            "API_PAGE_SIZE_MAX (500 by default).",
        ),
    ] = None,
) -> int:
    settings = context.settings
    if limit is None:
        return settings.api_page_size_default
    if limit > settings.api_page_size_max:
        raise invalid("limit", f"must be at most {settings.api_page_size_max}")
    return limit


PageLimit = Annotated[int, Depends(_page_limit)]
