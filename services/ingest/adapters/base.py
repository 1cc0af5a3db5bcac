"""What every message adapter produces: event drafts about one subject, not yet resolved.

Adapters are pure: they parse a message and map it to `EventDraft`s plus the `Subject`
the message is about (the references to look the consignment up by, and what to fall
back to). Resolving the subject needs the consignment directory, which is I/O, so it
happens afterwards in `services.ingest.resolve`.

    CorridorError (corridor.errors)
    ├── InvalidEvent        the message is well formed but breaks a mapping rule (422)
    └── MalformedMessage    the body is not a well-formed message of its kind (400)
        └── UnsafeXml       the XML declares a DTD or entities (400)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from corridor.errors import CorridorError, InvalidEvent
from corridor.events import (
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransitEvent,
)
from corridor.reference import CorridorReference

# Fixed forever: event ids are uuid5 names in it, so a re-sent message maps to the same ids.
EVENT_ID_NAMESPACE = uuid.UUID("6f3e2a8c-1d4b-5e7f-9a0b-2c4d6e8f0a1b")


class MalformedMessage(CorridorError):
    """The body cannot be read as a message of the endpoint's kind."""


class UnsafeXml(MalformedMessage):
    """The XML declares a DTD, entities or external references: refused, never expanded."""


class ReferenceKind(StrEnum):
    """The identifiers the consignment directory can find a consignment by."""

    MRN = "mrn"
    LRN = "lrn"
    TIR_CARNET = "tir_carnet"
    PERMIT_ID = "permit_id"


@dataclass(frozen=True, slots=True)
class Subject:
    """Which consignment and carrier a message is about, before the directory answers."""

    lookups: tuple[tuple[ReferenceKind, str], ...]
    consignment_fallback: str | None
    consignment_field: str
    carrier: str | None  # the carrier the message names, if it names one
    carrier_field: str


@dataclass(frozen=True, slots=True)
class EventDraft:
    """A `TransitEvent` but for its consignment and carrier."""

    event_id: uuid.UUID
    event_type: EventType
    occurred_at: datetime
    location: str
    source: Source
    references: References = field(default_factory=References)
    attributes: EventAttributes = field(default_factory=EventAttributes)

    def complete(self, consignment_id: str, carrier_id: str) -> TransitEvent:
        return TransitEvent(
            event_id=self.event_id,
            event_type=self.event_type,
            occurred_at=self.occurred_at,
            location=self.location,
            consignment_id=consignment_id,
            carrier_id=carrier_id,
            references=self.references,
            source=self.source,
            attributes=self.attributes,
        )


@dataclass(frozen=True, slots=True)
class MappedMessage:
    subject: Subject
    drafts: tuple[EventDraft, ...]
    # (element, finding): admitted, but worth the sender's attention.
    warnings: tuple[tuple[str, str], ...] = ()
    # Why a valid message carries no tracking fact (then `drafts` is empty).
    ignored: str | None = None


def event_id(system: SourceSystem, *identity: str) -> uuid.UUID:
    """Deterministic id over the business identity of what a message reports."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, "/".join((system.value, *identity)))


def location_of_office(reference: CorridorReference, office: str, field: str) -> str:
    """The corridor location a customs office reports for (reference data)."""
    location = reference.location_of_office(office)
    if location is not None:
        return location
    raise InvalidEvent(field, f"customs office {office!r} is not mapped to a corridor location")


def parse_local_time(text: str, zone: str, field: str) -> datetime:
    """An ISO date-time; one without an offset is read in the location's time zone."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidEvent(field, f"{text!r} is not an ISO 8601 date-time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo(zone))
