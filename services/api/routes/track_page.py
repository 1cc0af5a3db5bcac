"""`/track`: the carrier page, server-rendered (jinja2), no script, no separate build.

A carrier signs in with its API key (exchanged for a session cookie, `track_session`),
then sees its consignments with their state and ETA, a map of the corridor with each
truck's last position, and per consignment its ETA to every stop ahead, the clearance
outlook and the timeline of stays and crossings. It reads exactly what the carrier's key
may read through `/v1` (carrier-scoped SQL); another carrier's consignment answers 404
like an unknown one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from corridor.eta import ArrivalEstimate
from corridor.model import ConsignmentState
from services.api.deps import ApiContext, Context
from services.api.routes.consignments import JudgedAt, outlook_of
from services.api.track_map import TruckPosition, corridor_map
from services.api.track_session import (
    COOKIE_PATH,
    CSRF_COOKIE,
    SESSION_COOKIE,
    Session,
    SessionCodec,
    new_token,
    same_token,
)
from services.common.eta import UNDER_WAY, estimate_for, position_of, route_of
from services.common.keys import KeyStore, Principal, Role, hash_key
from storage.views import ConsignmentFilter, ConsignmentStatusView, ConsignmentView, StayView

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
LIST_LIMIT = 200
ETA_LIMIT = 60  # ETAs computed for the list page; the rest show theirs on their own page
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(prefix="/track", include_in_schema=False)


def _codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.track_sessions
    return codec


Codec = Annotated[SessionCodec, Depends(_codec)]


@dataclass(frozen=True, slots=True)
class Visitor:
    session: Session | None
    principal: Principal | None

    @property
    def carrier(self) -> str | None:
        principal = self.principal
        if principal is None or principal.role is not Role.CARRIER:
            return None
        return principal.carrier_id


async def _visitor(request: Request, codec: Codec) -> Visitor:
    session = codec.read(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return Visitor(None, None)
    key_store: KeyStore = request.app.state.key_store
    return Visitor(session, await key_store.principal_for(session.key_hash))


SignedIn = Annotated[Visitor, Depends(_visitor)]


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, template, context, status_code=status)
    response.headers.update(HEADERS)
    return response


def sign_in_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    token = request.cookies.get(CSRF_COOKIE) or new_token()
    response = page(request, "track/signin.html", status, csrf=token, error=error)
    secure = request.url.scheme == "https"
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", path=COOKIE_PATH, secure=secure
    )
    return response


async def form_of(request: Request) -> dict[str, str]:
    body = (await request.body())[:4096].decode("utf-8", "replace")
    return {name: values[0] for name, values in parse_qs(body).items()}


def when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "–"


def span(delta: timedelta) -> str:
    hours = max(0, round(delta.total_seconds() / 3600))
    return f"{hours // 24} d {hours % 24} h" if hours >= 24 else f"{hours} h"


def eta_text(estimate: ArrivalEstimate | None) -> str:
    if estimate is None:
        return "–"
    if estimate.arrival_p50 is None or estimate.arrival_p90 is None:
        return f"no estimate: {estimate.reason}"
    return (
        f"{when(estimate.arrival_p50)} (90 %: by {when(estimate.arrival_p90)}), "
        f"in {span(estimate.arrival_p50 - estimate.as_of)}"
    )


def truck_position(
    consignment: ConsignmentView, stays: tuple[StayView, ...], context: ApiContext
) -> TruckPosition | None:
    position = position_of(stays)
    if position is None:
        return None
    label = f"{consignment.consignment_id}: {consignment.state.value.replace('_', ' ')}"
    if position.departed_at is None or consignment.state is not ConsignmentState.IN_TRANSIT:
        return TruckPosition(consignment.consignment_id, position.location, None, label)
    route = route_of(consignment, context.reference)
    ahead = route[route.index(position.location) + 1 :] if position.location in route else ()
    following = ahead[0] if ahead else None
    return TruckPosition(
        consignment.consignment_id, position.location, following, f"{label} to {following}"
    )


async def estimate(
    context: ApiContext, view: ConsignmentStatusView, judged_at: JudgedAt
) -> ArrivalEstimate | None:
    if context.eta_statistics is None:
        return None
    return await estimate_for(
        view.consignment, view.stays, context.reference, context.eta_statistics, judged_at
    )


@router.get("")
async def consignments(request: Request, visitor: SignedIn, context: Context) -> Response:
    carrier = visitor.carrier
    if carrier is None or visitor.session is None:
        return sign_in_page(request)
    found = await context.reads.search_consignments(ConsignmentFilter(), carrier, LIST_LIMIT)
    judged_at = JudgedAt(context.reads, context.now())
    rows, trucks = [], []
    for index, consignment in enumerate(found.items):
        eta = None
        if consignment.state in UNDER_WAY and index < ETA_LIMIT:
            view = await context.reads.consignment_status(consignment.consignment_id, carrier)
            if view is not None:
                eta = await estimate(context, view, judged_at)
                if (truck := truck_position(consignment, view.stays, context)) is not None:
                    trucks.append(truck)
        rows.append(
            {"c": consignment, "eta": eta_text(eta), "last": when(consignment.last_event_at)}
        )
    return page(
        request,
        "track/list.html",
        carrier=carrier,
        csrf=visitor.session.csrf,
        rows=rows,
        map=corridor_map(context.reference, trucks),
        more=found.has_more,
    )


@router.get("/consignments/{consignment_id:path}")
async def consignment(
    request: Request, consignment_id: str, visitor: SignedIn, context: Context
) -> Response:
    carrier = visitor.carrier
    if carrier is None or visitor.session is None:
        return sign_in_page(request)
    timeline = await context.reads.timeline(consignment_id[:64], carrier)
    if timeline is None:
        return page(
            request, "track/missing.html", 404, carrier=carrier, csrf=visitor.session.csrf,
            consignment_id=consignment_id,
        )  # fmt: skip
    view = ConsignmentStatusView(timeline.consignment, timeline.stays)
    judged_at = JudgedAt(context.reads, context.now())
    eta = await estimate(context, view, judged_at)
    outlook = await outlook_of(view, context.reads, judged_at)
    truck = truck_position(timeline.consignment, timeline.stays, context)
    return page(
        request,
        "track/consignment.html",
        carrier=carrier,
        csrf=visitor.session.csrf,
        t=timeline,
        eta=eta,
        eta_text=eta_text(eta),
        outlook=outlook,
        when=when,
        span=span,
        map=corridor_map(context.reference, [truck] if truck else []),
    )


@router.post("/session")
async def sign_in(request: Request, codec: Codec) -> Response:
    form = await form_of(request)
    if not same_token(request.cookies.get(CSRF_COOKIE), form.get("csrf")):
        return sign_in_page(request, 403, "The form expired; please sign in again.")
    key = form.get("key", "").strip()
    key_store: KeyStore = request.app.state.key_store
    principal = await key_store.principal_for(hash_key(key)) if key else None
    if principal is None or principal.role is not Role.CARRIER or not principal.carrier_id:
        return sign_in_page(request, 401, "That is not an active carrier key.")
    value, _ = codec.issue(hash_key(key))
    response = RedirectResponse("/track", status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=codec.max_age,
        httponly=True,
        samesite="strict",
        path=COOKIE_PATH,
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(CSRF_COOKIE, path=COOKIE_PATH)
    return response


@router.post("/signout")
async def sign_out(request: Request, visitor: SignedIn) -> Response:
    form = await form_of(request)
    if visitor.session is None or not same_token(visitor.session.csrf, form.get("csrf")):
        return sign_in_page(request, 403, "The form expired; please sign in again.")
    response = RedirectResponse("/track", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
