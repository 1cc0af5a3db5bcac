"""Carriers' webhook endpoints: register, list, change, pause, delete, rotate, dead letters.

Carrier keys only, and each carrier sees only its own endpoints (another's answers 404
like an unknown id). The dispatcher (`services/dispatcher`) does the sending.
"""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends, Query, Request, Response

from services.api.deps import ApiContext, Context, invalid
from services.api.openapi import FORBIDDEN, INVALID, UNAUTHORIZED, UNAVAILABLE, problem
from services.api.ports import WebhookEndpoints
from services.api.webhook_schemas import (
    DEAD_LETTER_EXAMPLE,
    ENDPOINT_EXAMPLE,
    SECRET_EXAMPLE,
    DeadLetter,
    DeadLetterPage,
    Endpoint,
    EndpointCreate,
    EndpointList,
    EndpointSecret,
    EndpointUpdate,
    Replayed,
    ReplayRequest,
    example,
)
from services.common.auth import authenticated_before_body, require_roles
from services.common.keys import Principal, Role
from services.common.problems import ProblemError
from services.common.webhook_targets import TargetRefused, check_target
from storage.views import EndpointView

SECRET_OVERLAP = timedelta(hours=24)
"""How long deliveries are signed with the old secret too after a rotation."""

ENDPOINT_NOT_FOUND = problem(
    404, "endpoint-not-found", "Not found", "no webhook endpoint 0b6c... of this carrier"
)
router = APIRouter(
    prefix="/v1/webhooks/endpoints",
    tags=["webhooks"],
    route_class=authenticated_before_body(Role.CARRIER),
    responses={
        401: UNAUTHORIZED,
        403: FORBIDDEN,
        404: ENDPOINT_NOT_FOUND,
        422: INVALID,
        503: UNAVAILABLE,
    },
)


def _store(request: Request) -> WebhookEndpoints:
    store: WebhookEndpoints | None = request.app.state.webhooks
    if store is None:
        raise ProblemError(503, "webhooks-unavailable", "Unavailable", "webhooks are not set up")
    return store


Store = Annotated[WebhookEndpoints, Depends(_store)]
Limit = Annotated[int, Query(ge=1, le=500)]


def _carrier(
    principal: Annotated[Principal, Depends(require_roles(Role.CARRIER))],
) -> str:
    if not principal.carrier_id:
        raise ProblemError(
            403, "forbidden", "Forbidden", "this carrier key is not bound to a carrier"
        )
    return principal.carrier_id


Carrier = Annotated[str, Depends(_carrier)]


def not_found(endpoint_id: UUID) -> ProblemError:
    return ProblemError(
        404, "endpoint-not-found", "Not found", f"no webhook endpoint {endpoint_id} of this carrier"
    )


async def _own_endpoint(endpoint_id: UUID, carrier: Carrier, store: Store) -> EndpointView:
    """The caller's endpoint; another carrier's answers 404 like an unknown id."""
    view = await store.endpoint(carrier, endpoint_id)
    if view is None:
        raise not_found(endpoint_id)
    return view


OwnEndpoint = Annotated[EndpointView, Depends(_own_endpoint)]


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def present(view: EndpointView) -> Endpoint:
    return Endpoint(
        id=view.id,
        url=view.url,
        kinds=list(view.kinds),
        eta_threshold_minutes=view.eta_threshold_seconds // 60,
        description=view.description,
        paused=view.paused,
        created_at=view.created_at,
        updated_at=view.updated_at,
    )


async def allowed_url(context: ApiContext, url: str) -> str:
    try:
        await check_target(url, context.settings.insecure_hosts, must_resolve=False)
    except TargetRefused as exc:
        raise invalid("url", str(exc)) from None
    return url


@router.post(
    "",
    status_code=201,
    summary="Register an endpoint; its signing secret is shown once, here",
    response_model=EndpointSecret,
    responses=example(SECRET_EXAMPLE, 201),
)
async def create(
    body: EndpointCreate, carrier: Carrier, context: Context, store: Store
) -> EndpointSecret:
    url = await allowed_url(context, body.url)
    secret = new_secret()
    view = await store.create_endpoint(
        carrier,
        uuid4(),
        url,
        list(dict.fromkeys(body.kinds)),
        body.eta_threshold_minutes * 60,
        body.description,
        secret,
    )
    return EndpointSecret(endpoint=present(view), secret=secret)


@router.get(
    "",
    summary="The carrier's endpoints",
    response_model=EndpointList,
    responses=example({"items": [ENDPOINT_EXAMPLE]}),
)
async def list_endpoints(carrier: Carrier, store: Store) -> EndpointList:
    return EndpointList(items=[present(v) for v in await store.endpoints(carrier)])


@router.get(
    "/{endpoint_id}",
    summary="One endpoint",
    response_model=Endpoint,
    responses=example(ENDPOINT_EXAMPLE),
)
async def get(endpoint: OwnEndpoint) -> Endpoint:
    return present(endpoint)


@router.patch(
    "/{endpoint_id}",
    summary="Change the URL, kinds, threshold, description; pause or resume",
    response_model=Endpoint,
    responses=example(ENDPOINT_EXAMPLE),
)
async def update(
    endpoint_id: UUID, body: EndpointUpdate, carrier: Carrier, context: Context, store: Store
) -> Endpoint:
    changes: dict[str, Any] = {}
    if body.url is not None:
        changes["url"] = await allowed_url(context, body.url)
    if body.kinds is not None:
        changes["kinds"] = [k.value for k in dict.fromkeys(body.kinds)]
    if body.eta_threshold_minutes is not None:
        changes["eta_threshold_seconds"] = body.eta_threshold_minutes * 60
    if body.description is not None:
        changes["description"] = body.description
    if body.paused is not None:
        changes["paused"] = body.paused
    view = (
        await store.update_endpoint(carrier, endpoint_id, changes)
        if changes
        else await store.endpoint(carrier, endpoint_id)
    )
    if view is None:
        raise not_found(endpoint_id)
    return present(view)


@router.delete("/{endpoint_id}", status_code=204, summary="Delete an endpoint and its queue")
async def delete(endpoint_id: UUID, carrier: Carrier, store: Store) -> Response:
    if not await store.delete_endpoint(carrier, endpoint_id):
        raise not_found(endpoint_id)
    return Response(status_code=204)


@router.post(
    "/{endpoint_id}/rotate-secret",
    summary="A new signing secret (shown once); the old one signs too for 24 h",
    response_model=EndpointSecret,
    responses=example(SECRET_EXAMPLE),
)
async def rotate(current: OwnEndpoint, context: Context, store: Store) -> EndpointSecret:
    secret, until = new_secret(), context.now() + SECRET_OVERLAP
    view = await store.update_endpoint(
        current.carrier_id,
        current.id,
        {"secret": secret, "previous_secret": current.secret, "previous_secret_until": until},
    )
    if view is None:  # deleted meanwhile
        raise not_found(current.id)
    return EndpointSecret(endpoint=present(view), secret=secret, previous_secret_valid_until=until)


@router.get(
    "/{endpoint_id}/dead-letters",
    summary="Deliveries given up after the last retry, oldest first",
    response_model=DeadLetterPage,
    responses=example(DEAD_LETTER_EXAMPLE),
)
async def dead_letters(
    endpoint: OwnEndpoint,
    store: Store,
    after: Annotated[int, Query(ge=0, description="`next_after` of the previous page.")] = 0,
    limit: Limit = 100,
) -> DeadLetterPage:
    rows = await store.dead_letters(endpoint.carrier_id, endpoint.id, after, limit)
    return DeadLetterPage(
        items=[
            DeadLetter(
                id=r.id,
                seq=r.seq,
                consignment_id=r.consignment_id,
                event_type=r.event_type,
                body=r.body,
                attempts=r.attempts,
                last_status=r.last_status,
                last_error=r.last_error,
                created_at=r.created_at,
                failed_at=r.finished_at,
            )
            for r in rows
        ],
        next_after=rows[-1].seq if len(rows) == limit else None,
    )


@router.post(
    "/{endpoint_id}/dead-letters/replay",
    summary="Queue dead letters again (one, or all), with fresh retries",
    response_model=Replayed,
    responses=example({"replayed": 1}),
)
async def replay(
    endpoint: OwnEndpoint, body: ReplayRequest, context: Context, store: Store
) -> Replayed:
    count = await store.replay(endpoint.carrier_id, endpoint.id, body.delivery_id, context.now())
    return Replayed(replayed=count)
