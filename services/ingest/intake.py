"""The ingest use case: validate candidate events, publish the good ones, report each.

Adapters (canonical JSON, NCTS XML, e-Permit, eTIR) turn a request into candidates;
this module decides per item accepted / duplicate / rejected and publishes the
accepted ones in one durable batch. Nothing is reported accepted before Kafka acks.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from pydantic import ValidationError

from corridor.errors import CorridorError
from corridor.events import TransitEvent
from corridor.identifiers import check_mrn, validate_references
from corridor.ownership import (
    ConsignmentIdentity,
    claim_conflicts,
    claimed_carrier,
    consignment_identity,
)
from corridor.reference import CorridorReference
from services.common.keys import Principal
from services.common.problems import FieldError, validation_errors
from services.ingest.publisher import EventPublisher


class ItemStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass(slots=True)
class ItemResult:
    index: int
    status: ItemStatus
    event_id: str | None = None
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[FieldError] = field(default_factory=list)
    # Same id as an earlier event but different content: published so the tracker
    # can raise its conflict alert, and flagged here so the sender learns of it.
    conflicts_with_earlier: bool = False


class ForeignLocation(Exception):
    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


class OwnershipConflict(Exception):
    """Some events name another carrier than their consignment's: nothing is published."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.rule}" for e in errors))
        self.errors = errors


class CarrierLookup(Protocol):
    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        """The carrier each stored consignment belongs to; unknown ids are absent."""
        ...


class AcceptedEvents(Protocol):
    """The events accepted so far (published and acked), by id and content."""

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]:
        """The contents accepted under each of `event_ids` (absent: none known)."""
        ...

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None:
        """Record (event id, fingerprint) pairs as accepted."""
        ...


class RecentEvents:
    """`AcceptedEvents` of this process, recent ones only, to answer re-sends cheaply.

    Bounded: a re-send this misses is still harmless, because the tracker and the
    database are idempotent on `event_id`.
    """

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._fingerprints: OrderedDict[str, set[str]] = OrderedDict()

    def lookup(self, event_id: str) -> set[str] | None:
        return self._fingerprints.get(event_id)

    def add(self, event_id: str, fingerprint: str) -> None:
        self._fingerprints.setdefault(event_id, set()).add(fingerprint)
        self._fingerprints.move_to_end(event_id)
        while len(self._fingerprints) > self._capacity:
            self._fingerprints.popitem(last=False)

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]:
        known = self._fingerprints
        # Copies: the caller adds a request's events to them before they are published.
        return {event_id: set(known[event_id]) for event_id in event_ids if event_id in known}

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None:
        for event_id, fingerprint in accepted:
            self.add(event_id, fingerprint)


@dataclass(frozen=True, slots=True)
class Checked:
    """An event that passed every check, with what was admitted but is worth saying."""

    event: TransitEvent
    warnings: tuple[FieldError, ...] = ()


Candidate = Checked | list[FieldError]


class EventIntake:
    def __init__(
        self,
        reference: CorridorReference,
        publisher: EventPublisher,
        now: Callable[[], datetime],
        max_future_skew: timedelta,
        carriers: CarrierLookup,
        accepted: AcceptedEvents | None = None,
    ) -> None:
        self._reference = reference
        self._carriers = carriers
        self._publisher = publisher
        self._now = now
        self._max_future_skew = max_future_skew
        self._accepted = accepted or RecentEvents()

    @property
    def reference(self) -> CorridorReference:
        return self._reference

    def parse(self, raw: Any) -> Candidate:
        """Validate one raw JSON item against the contract and the domain rules."""
        if not isinstance(raw, dict):
            return [
                FieldError(
                    field="body", rule=f"an event is a JSON object, not {type(raw).__name__}"
                )
            ]
        try:
            event = TransitEvent.model_validate(raw)
        except ValidationError as exc:
            return validation_errors(exc.errors())
        return self.check(event)

    def check(self, event: TransitEvent, *, mrn_warning_field: str | None = None) -> Candidate:
        """Domain rules beyond the schema. With `mrn_warning_field` (the source element that
        carried the MRN), a wrong MRN check digit is a warning naming it, not a rejection."""
        errors: list[FieldError] = []
        warnings: list[FieldError] = []
        if not self._reference.has_location(event.location):
            errors.append(
                FieldError(field="location", rule=f"unknown corridor location {event.location!r}")
            )
        limit = self._now() + self._max_future_skew
        if event.occurred_at > limit:
            errors.append(
                FieldError(
                    field="occurred_at",
                    rule=f"{event.occurred_at.isoformat()} is more than "
                    f"{int(self._max_future_skew.total_seconds())} s in the future",
                )
            )
        if event.references.mrn is not None:
            try:
                checked = check_mrn(event.references.mrn, field="references.mrn")
            except CorridorError as exc:
                errors.append(FieldError(field=exc.field, rule=exc.rule))
            else:
                if not checked.check_digit_valid:
                    finding = FieldError(
                        field=mrn_warning_field or "references.mrn",
                        rule=f"check digit is {checked.check_digit}, "
                        f"expected {checked.expected_check_digit}",
                    )
                    (errors if mrn_warning_field is None else warnings).append(finding)
        try:
            validate_references(event.references, accept_wrong_mrn_check_digit=True)
        except CorridorError as exc:
            if exc.field != "references.mrn":
                errors.append(FieldError(field=exc.field, rule=exc.rule))
        return errors or Checked(event, tuple(warnings))

    async def submit(
        self, principal: Principal, candidates: Sequence[Candidate]
    ) -> list[ItemResult]:
        """Publish the valid candidates in one batch; raise before any 2xx if Kafka fails.

        Raises, before publishing anything, `ForeignLocation` when any valid item is for a
        location outside the key's scope and `OwnershipConflict` when any names another
        carrier than its consignment's; `BrokerUnavailable` when Kafka did not ack.
        """
        for candidate in candidates:
            if isinstance(candidate, Checked) and not principal.may_publish_for(
                candidate.event.location
            ):
                raise ForeignLocation(candidate.event.location)
        await self._refuse_ownership_conflicts(candidates)
        results: list[ItemResult] = []
        to_publish: list[TransitEvent] = []
        known = await self._accepted.fingerprints(
            [str(c.event.event_id) for c in candidates if isinstance(c, Checked)]
        )
        for index, candidate in enumerate(candidates):
            if not isinstance(candidate, Checked):
                results.append(ItemResult(index, ItemStatus.REJECTED, errors=candidate))
                continue
            result = _classify(index, candidate.event, known)
            result.warnings = list(candidate.warnings)
            results.append(result)
            if result.status is ItemStatus.ACCEPTED:
                to_publish.append(candidate.event)
        if to_publish:
            await self._publisher.publish(to_publish)
            await self._accepted.remember(
                [(str(event.event_id), event.fingerprint()) for event in to_publish]
            )
        return results

    async def _refuse_ownership_conflicts(self, candidates: Sequence[Candidate]) -> None:
        """A stored consignment keeps its carrier; within the request, the first claim does."""
        by_consignment: dict[str, list[tuple[int, TransitEvent]]] = {}
        for index, candidate in enumerate(candidates):
            if isinstance(candidate, Checked):
                event = candidate.event
                by_consignment.setdefault(event.consignment_id, []).append((index, event))
        if not by_consignment:
            return
        stored = await self._carriers.carriers_of(sorted(by_consignment))
        errors: list[FieldError] = []
        for consignment_id, items in by_consignment.items():
            owner = claimed_carrier(stored.get(consignment_id))
            if owner is None:
                ordered = sorted((event for _, event in items), key=lambda e: e.sort_key)
                owner = consignment_identity(ordered)[0].carrier_id
            known = ConsignmentIdentity(carrier_id=owner)
            for index, event in items:
                for name, rule in claim_conflicts(known, event):
                    field = name if len(candidates) == 1 else f"[{index}].{name}"
                    errors.append(FieldError(field=field, rule=rule))
        if errors:
            raise OwnershipConflict(sorted(errors, key=lambda e: e.field))


def _classify(index: int, event: TransitEvent, known: dict[str, set[str]]) -> ItemResult:
    """Accepted, or a duplicate of an event accepted before (or earlier in the request,
    which `known` then learns)."""
    event_id, fingerprint = str(event.event_id), event.fingerprint()
    earlier = known.setdefault(event_id, set())
    if fingerprint in earlier:
        return ItemResult(index, ItemStatus.DUPLICATE, event_id)
    conflicts = bool(earlier)
    earlier.add(fingerprint)
    return ItemResult(index, ItemStatus.ACCEPTED, event_id, conflicts_with_earlier=conflicts)
