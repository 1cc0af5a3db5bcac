"""HTTP routes of the ingest service: parse, call the intake, map the result."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from corridor.events import TransitEvent
from services.common.auth import forbidden, require_roles
from services.common.keys import Principal, Role
from services.common.problems import FieldError, ProblemError
from services.ingest import openapi
from services.ingest.adapters import epermit, etir, ncts
from services.ingest.adapters.base import MappedMessage
from services.ingest.adapters.ncts_xsd import OfficialXsds
from services.ingest.directory import ConsignmentDirectory, resolve
from services.ingest.intake import (
    Candidate,
    Checked,
    EventIntake,
    ForeignLocation,
    OwnershipConflict,
)
from services.ingest.metrics import IngestMetrics
from services.ingest.publisher import BrokerUnavailable
from services.ingest.results import IngestResult, report

Publisher = Annotated[Principal, Depends(require_roles(Role.PUBLISHER))]


def build_router(
    intake: EventIntake,
    directory: ConsignmentDirectory,
    metrics: IngestMetrics,
    *,
    max_batch: int,
    max_xml_bytes: int,
    retry_after_seconds: int,
    ncts_xsds: OfficialXsds | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["ingest"])

    async def publish(
        endpoint: str,
        principal: Principal,
        candidates: Sequence[Candidate],
        response: Response,
        carrier_field: str = "carrier_id",
    ) -> IngestResult:
        started = time.perf_counter()
        try:
            results = await intake.submit(principal, candidates)
        except ForeignLocation as exc:
            metrics.rejected.labels(endpoint, "forbidden_location").inc(len(candidates))
            raise forbidden(
                f"this key may not publish for location {exc.location!r}; nothing was published"
            ) from None
        except OwnershipConflict as exc:
            metrics.rejected.labels(endpoint, "carrier_conflict").inc(len(candidates))
            raise ProblemError(
                409,
                "carrier-conflict",
                "Conflict",
                f"{exc}; a consignment's carrier is fixed by its first claim; "
                "nothing was published",
                # A mapped message names its carrier in its own vocabulary.
                errors=[
                    FieldError(field=e.field.replace("carrier_id", carrier_field), rule=e.rule)
                    for e in exc.errors
                ],
            ) from None
        except BrokerUnavailable:
            metrics.rejected.labels(endpoint, "broker_unavailable").inc(len(candidates))
            raise ProblemError(
                503,
                "broker-unavailable",
                "Service unavailable",
                "the event log did not confirm the write; nothing was accepted, retry later",
                headers={"Retry-After": str(retry_after_seconds)},
            ) from None
        metrics.publish_seconds.labels(endpoint).observe(time.perf_counter() - started)
        return report(endpoint, results, metrics, response)

    @router.post("/events", **openapi.route("events", max_batch))
    async def post_events(
        request: Request, principal: Publisher, response: Response
    ) -> IngestResult:
        document = parse_json(await request.body())
        items = document if isinstance(document, list) else [document]
        if not items:
            raise invalid("body", "an empty array carries no events")
        if len(items) > max_batch:
            raise invalid("body", f"at most {max_batch} events per request, got {len(items)}")
        return await publish("events", principal, [intake.parse(i) for i in items], response)

    @router.post("/messages/ncts", **openapi.route("ncts", max_batch))
    async def post_ncts(request: Request, principal: Publisher, response: Response) -> IngestResult:
        message = ncts.to_message(
            await request.body(), intake.reference, max_bytes=max_xml_bytes, official=ncts_xsds
        )
        if message.ignored is not None:
            response.status_code = 200
            return IngestResult(
                accepted=0, duplicates=0, rejected=0, results=[], ignored=message.ignored
            )
        _within_scope(principal, message)
        events = await resolve(message, directory)
        findings = tuple(FieldError(field=f, rule=r) for f, r in message.warnings)
        candidates = [
            Checked(c.event, (*c.warnings, *findings)) if isinstance(c, Checked) else c
            for c in (intake.check(e, mrn_warning_field=ncts.MRN_ELEMENT) for e in events)
        ]
        return await publish("ncts", principal, candidates, response, message.subject.carrier_field)

    @router.post("/messages/epermit", **openapi.route("epermit", max_batch))
    async def post_epermit(
        request: Request,
        principal: Publisher,
        response: Response,
        location: Annotated[
            str | None,
            Query(
                description="Where the permit was used; defaults to the key's only location.",
                examples=["AZ-ALAT"],
            ),
        ] = None,
    ) -> IngestResult:
        document = parse_json(await request.body())
        if (housekeeping := epermit.ignored_event_type(document)) is not None:
            response.status_code = 200
            return IngestResult(
                accepted=0,
                duplicates=0,
                rejected=0,
                results=[],
                ignored=f"{housekeeping} is ledger housekeeping, not a permit's journey",
            )
        where = location or _only_location(principal)
        if not intake.reference.has_location(where):
            raise invalid("location", f"unknown corridor location {where!r}")
        message = epermit.to_message(document, intake.reference, where)
        _within_scope(principal, message)
        events = await resolve(message, directory)
        candidates = [intake.check(e) for e in events]
        return await publish(
            "epermit", principal, candidates, response, message.subject.carrier_field
        )

    @router.post("/messages/etir", **openapi.route("etir", max_batch))
    async def post_etir(request: Request, principal: Publisher, response: Response) -> IngestResult:
        message = etir.to_message(parse_json(await request.body()), intake.reference)
        _within_scope(principal, message)
        events = await resolve(message, directory)
        candidates = [intake.check(e) for e in events]
        return await publish("etir", principal, candidates, response, message.subject.carrier_field)

    return router


def _within_scope(principal: Principal, message: MappedMessage) -> None:
    """Refuse a foreign location before any lookup, so a refusal reveals nothing else."""
    for draft in message.drafts:
        if not principal.may_publish_for(draft.location):
            raise forbidden(
                f"this key may not publish for location {draft.location!r}; nothing was published"
            )


def _only_location(principal: Principal) -> str:
    if len(principal.locations) != 1:
        raise invalid(
            "location",
            f"required: this key publishes for {len(principal.locations)} locations, "
            "so the query must say which",
        )
    return next(iter(principal.locations))


def invalid(field: str, rule: str) -> ProblemError:
    return ProblemError(
        422,
        "invalid-request",
        "Invalid input",
        f"{field}: {rule}",
        errors=[FieldError(field=field, rule=rule)],
    )


def parse_json(body: bytes) -> Any:
    if not body:
        raise invalid("body", "a JSON body is required")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise malformed("body is not UTF-8 encoded") from None
    except ValueError as exc:
        raise malformed(f"malformed JSON: {exc}") from None
    except RecursionError:
        raise malformed("malformed JSON: nested too deeply") from None


def malformed(rule: str) -> ProblemError:
    return ProblemError(
        400, "malformed-body", "Bad request", rule, errors=[FieldError(field="body", rule=rule)]
    )


__all__ = ["IngestResult", "TransitEvent", "build_router"]
