"""Alerts (overdue stays, anomalies): operators see all, carriers their own consignments'."""

# No `from __future__ import annotations`: the limits in the annotations come from settings.
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from corridor.alerts import AlertKind
from services.api import examples, present, schemas
from services.api.deps import (
    Context,
    Reader,
    carrier_scope,
    instant_query,
    known_location,
    within_bounds,
)
from services.api.openapi import FORBIDDEN, responses
from services.api.routes.paging import (
    CURSOR_PATTERN,
    alert_position,
    encode_alert_cursor,
    next_link,
)
from services.api.settings import ApiSettings

DEFAULT_SINCE = timedelta(days=7)


def build_router(settings: ApiSettings) -> APIRouter:
    router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

    @router.get(
        "",
        summary="Alerts raised since an instant, oldest first",
        description="`since` defaults to 7 days ago. Carriers see the alerts of their own "
        "consignments only (alerts about a location alone are operators').",
        response_model=schemas.AlertPage,
        responses=responses(examples.ALERT_PAGE, FORBIDDEN),
    )
    async def alerts(
        request: Request,
        principal: Reader,
        context: Context,
        since: Annotated[
            AwareDatetime | None, instant_query("Raised at or after; default 7 days ago.")
        ] = None,
        location: Annotated[str | None, Query(max_length=40)] = None,
        kind: AlertKind | None = None,
        limit: Annotated[int, Query(ge=1, le=settings.api_page_size_max)] = (
            settings.api_page_size_default
        ),
        cursor: Annotated[
            str | None,
            Query(
                max_length=512,
                pattern=CURSOR_PATTERN,
                description="`next_cursor` of the previous page.",
            ),
        ] = None,
    ) -> schemas.AlertPage:
        start = within_bounds("since", since) if since else context.now() - DEFAULT_SINCE
        views = await context.reads.alerts(
            start,
            location=known_location(context, "location", location),
            kind=kind.value if kind else None,
            carrier_id=carrier_scope(principal),
            after_id=alert_position(cursor),
            limit=limit + 1,
        )
        more = len(views) > limit
        views = views[:limit]
        next_cursor = encode_alert_cursor(views[-1].id) if more else None
        return schemas.AlertPage(
            items=[present.alert(view) for view in views],
            next_cursor=next_cursor,
            links=schemas.PageLinks(next=next_link(request, context.base, next_cursor)),
        )

    return router
