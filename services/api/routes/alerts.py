"""Alerts (overdue stays, anomalies): operators see all, carriers their own consignments'."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime

from corridor.alerts import AlertKind
from services.api import examples, present, schemas
from services.api.deps import (
    Context,
    PageLimit,
    Reader,
    Reads,
    carrier_scope,
    instant_query,
    known_location,
    within_bounds,
)
from services.api.openapi import FORBIDDEN, responses
from services.api.routes.paging import (
    CursorParam,
    alert_position,
    encode_alert_cursor,
    next_link,
)

DEFAULT_SINCE = timedelta(days=7)


router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get(
    "",
    summary="Alerts raised since an instant, oldest first",
    description="`since` defaults to 7 days ago. Carriers see the alerts of their own "
    "consignments only (alerts about a location alone are operators'). An alert a later "
    "event made untrue carries `withdrawn_at`; `open=true` leaves those out.",
    response_model=schemas.AlertPage,
    responses=responses(examples.ALERT_PAGE, FORBIDDEN),
)
async def alerts(
    request: Request,
    principal: Reader,
    reads: Reads,
    context: Context,
    limit: PageLimit,
    since: Annotated[
        AwareDatetime | None, instant_query("Raised at or after; default 7 days ago.")
    ] = None,
    location: Annotated[str | None, Query(max_length=40)] = None,
    kind: AlertKind | None = None,
    is_open: Annotated[
        bool | None,
        Query(
            alias="open",
            description="true: open alerts only; false: withdrawn ones only; absent: all.",
        ),
    ] = None,
    cursor: CursorParam = None,
) -> schemas.AlertPage:
    start = within_bounds("since", since) if since else context.now() - DEFAULT_SINCE
    views = await reads.alerts(
        start,
        location=known_location(context, "location", location),
        kind=kind.value if kind else None,
        carrier_id=carrier_scope(principal),
        after_id=alert_position(cursor),
        limit=limit + 1,
        is_open=is_open,
    )
    more = len(views) > limit
    views = views[:limit]
    next_cursor = encode_alert_cursor(views[-1].id) if more else None
    return schemas.AlertPage(
        items=[present.alert(view) for view in views],
        next_cursor=next_cursor,
        links=schemas.PageLinks(next=next_link(request, context.base, next_cursor)),
    )
