"""Carriers and operators: one consignment's status and timeline, and search."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime

from corridor.clearance import RECENT_WINDOW, ClearanceOutlook, clearance_outlook
from corridor.model import ConsignmentState, StayStatus
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
from services.api.eta import present as present_eta
from services.api.openapi import FORBIDDEN, NOT_FOUND, responses
from services.api.ports import ApiReads
from services.api.routes.paging import (
    CursorParam,
    consignment_position,
    next_consignment_cursor,
    next_link,
)
from services.common.eta import estimate_for
from services.common.problems import ProblemError
from storage.views import ConsignmentFilter, ConsignmentStatusView

ConsignmentIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=64,
        description="The consignment id; another carrier's answers like an unknown one.",
        examples=[examples.CONSIGNMENT_ID],
    ),
]
Reference = Annotated[
    str | None, Query(min_length=1, max_length=200, description="Matched after normalisation")
]


def not_found(consignment_id: str) -> ProblemError:
    # The same document for unknown and foreign ids: existence must not leak.
    return ProblemError(
        404,
        "consignment-not-found",
        "Not found",
        f"no consignment {consignment_id!r} is visible to this key",
    )


class JudgedAt:
    """The tracker's event-time clock, as the overdue alerts use: a replayed month is
    judged at its end, and live it is moments old. Never past the wall clock, which a
    publisher's clock running ahead could otherwise push it. Read once, when needed."""

    def __init__(self, reads: ApiReads, now: datetime) -> None:
        self._reads = reads
        self._now = now
        self._as_of: datetime | None = None

    async def __call__(self) -> datetime:
        if self._as_of is None:
            self._as_of = min(await self._reads.tracker_clock() or self._now, self._now)
        return self._as_of


async def outlook_of(
    view: ConsignmentStatusView, reads: ApiReads, judged_at: JudgedAt
) -> ClearanceOutlook | None:
    """When the consignment's latest open stay may end (None when it is not at a location)."""
    open_stays = [stay for stay in view.stays if stay.status is StayStatus.IN_PROGRESS]
    if not open_stays:
        return None
    stay = max(open_stays, key=lambda s: s.arrived_at)
    as_of = await judged_at()
    recent = await reads.recent_dwell_seconds(stay.location, as_of - RECENT_WINDOW, as_of)
    return clearance_outlook(stay.location, stay.arrived_at, as_of, recent)


router = APIRouter(prefix="/v1/consignments", tags=["consignments"])


# Ids may contain '/' (the contract allows it), and servers decode %2F before routing,
# so the id is a path segment sequence; the timeline route goes first, as a status
# path would also match it.
@router.get(
    "/{consignment_id:path}/timeline",
    summary="Timeline: ordered events, stays with stage durations, crossings, legs",
    response_model=schemas.Timeline,
    responses=responses(examples.TIMELINE, FORBIDDEN, NOT_FOUND),
)
async def timeline(
    consignment_id: ConsignmentIdPath, principal: Reader, reads: Reads, context: Context
) -> schemas.Timeline:
    view = await reads.timeline(consignment_id, carrier_scope(principal))
    if view is None:
        raise not_found(consignment_id)
    return present.timeline(view, context.base)


@router.get(
    "/{consignment_id:path}",
    summary="Status: state, location, references, route and stays",
    response_model=schemas.ConsignmentStatus,
    responses=responses(examples.STATUS, FORBIDDEN, NOT_FOUND),
)
async def status(
    consignment_id: ConsignmentIdPath, principal: Reader, reads: Reads, context: Context
) -> schemas.ConsignmentStatus:
    view = await reads.consignment_status(consignment_id, carrier_scope(principal))
    if view is None:
        raise not_found(consignment_id)
    judged_at = JudgedAt(reads, context.now())
    eta = None
    if context.eta_statistics is not None:
        estimate = await estimate_for(
            view.consignment, view.stays, context.reference, context.eta_statistics, judged_at
        )
        eta = present_eta(estimate) if estimate is not None else None
    outlook = await outlook_of(view, reads, judged_at)
    return present.status(view, context.base, outlook, eta)


@router.get(
    "",
    summary="Search by any reference, state and current location, newest first",
    description="Filters combine with AND. `state=in_transit&location=X` (or "
    "`state=at_location`) with `last_event_before` lists stuck consignments. "
    "Carriers see only their own.",
    response_model=schemas.ConsignmentPage,
    responses=responses(examples.CONSIGNMENT_PAGE, FORBIDDEN),
)
async def search(
    request: Request,
    principal: Reader,
    reads: Reads,
    context: Context,
    limit: PageLimit,
    tir_carnet: Reference = None,
    mrn: Reference = None,
    permit_id: Reference = None,
    vehicle_plate: Reference = None,
    container: Reference = None,
    state: ConsignmentState | None = None,
    location: Annotated[
        str | None, Query(max_length=40, description="Current location (a corridor code).")
    ] = None,
    last_event_before: Annotated[
        AwareDatetime | None,
        instant_query("Only consignments with no event since this instant."),
    ] = None,
    cursor: CursorParam = None,
) -> schemas.ConsignmentPage:
    filters = ConsignmentFilter(
        tir_carnet=tir_carnet,
        mrn=mrn,
        permit_id=permit_id,
        vehicle_plate=vehicle_plate,
        container=container,
        state=state,
        location=known_location(context, "location", location),
        last_event_before=(
            within_bounds("last_event_before", last_event_before) if last_event_before else None
        ),
    )
    page = await reads.search_consignments(
        filters, carrier_scope(principal), limit, consignment_position(cursor)
    )
    next_cursor = next_consignment_cursor(page.items, page.has_more)
    return schemas.ConsignmentPage(
        items=[present.summary(item, context.base) for item in page.items],
        next_cursor=next_cursor,
        links=schemas.PageLinks(next=next_link(request, context.base, next_cursor)),
    )
