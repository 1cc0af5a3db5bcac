"""What an ingest request answers: a count per status and one outcome per item."""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel, Field

from services.common.problems import FieldError, ProblemError
from services.ingest.intake import ItemResult, ItemStatus
from services.ingest.metrics import IngestMetrics


class ItemOutcome(BaseModel):
    index: int = Field(description="Position of the item in the request (0 for a single one).")
    status: ItemStatus
    event_id: str | None = None
    errors: list[FieldError] = Field(default_factory=list, description="Why it was rejected.")
    warnings: list[FieldError] = Field(
        default_factory=list, description="Admitted, but worth fixing (e.g. an MRN check digit)."
    )
    conflicts_with_earlier: bool = Field(
        default=False,
        description="Same event_id as an earlier event but different content: published, "
        "so the tracker raises its conflict alert.",
    )


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    rejected: int
    results: list[ItemOutcome]
    ignored: str | None = Field(
        default=None,
        description="Why a well-formed message carried no tracking fact (nothing published).",
    )


def report(
    endpoint: str, results: list[ItemResult], metrics: IngestMetrics, response: Response
) -> IngestResult:
    """202 when anything new was stored, 200 for re-sends only, 422 when all were rejected."""
    counts = {status: sum(r.status is status for r in results) for status in ItemStatus}
    metrics.accepted.labels(endpoint).inc(counts[ItemStatus.ACCEPTED])
    metrics.duplicates.labels(endpoint).inc(counts[ItemStatus.DUPLICATE])
    for result in results:
        if result.status is ItemStatus.REJECTED:
            reason = result.errors[0].field if result.errors else "invalid"
            metrics.rejected.labels(endpoint, reason.split("[")[0].split(".")[0]).inc()
    if results and counts[ItemStatus.REJECTED] == len(results):
        errors = [
            FieldError(field=_prefixed(r, len(results), e.field), rule=e.rule)
            for r in results
            for e in r.errors
        ]
        raise ProblemError(
            422,
            "invalid-event",
            "Invalid input",
            "; ".join(f"{e.field}: {e.rule}" for e in errors[:5]),
            errors=errors,
        )
    response.status_code = 202 if counts[ItemStatus.ACCEPTED] else 200
    return IngestResult(
        accepted=counts[ItemStatus.ACCEPTED],
        duplicates=counts[ItemStatus.DUPLICATE],
        rejected=counts[ItemStatus.REJECTED],
        results=[
            ItemOutcome(
                index=r.index,
                status=r.status,
                event_id=r.event_id,
                errors=r.errors,
                warnings=r.warnings,
                conflicts_with_earlier=r.conflicts_with_earlier,
            )
            for r in results
        ],
    )


def _prefixed(result: ItemResult, total: int, field: str) -> str:
    return field if total == 1 else f"[{result.index}].{field}"
