"""The canonical transit event: the one contract every publisher is mapped to.

Ingest adapters turn eTIR, NCTS, e-Permit and gate/port messages into `TransitEvent`s;
the tracker, the simulator and the API all speak this shape. `docs/event-mapping.md`
documents the mapping from each source vocabulary to `EventType`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

SCHEMA_VERSION: Literal["1.0"] = "1.0"
MAX_PLATES = 10
MAX_CONTAINERS = 200  # a block train of 100 wagons with two 20-foot containers each
MAX_SEALS = 100

LocationCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{2}-[A-Z0-9]+(?:-[A-Z0-9]+)*$", max_length=40)
]
CONSIGNMENT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"


def _plain_path_segments(value: str) -> str:
    # '/' is allowed (ids built from holder ids and carnets), but an id is also a URL path
    # in the API: an empty, '.' or '..' segment would be rewritten by any client that
    # normalises paths, so such an id could never be asked for as written.
    if any(segment in ("", ".", "..") for segment in value.split("/")):
        raise ValueError("must not contain an empty, '.' or '..' segment between '/'")
    return value


ConsignmentId = Annotated[
    str, StringConstraints(pattern=CONSIGNMENT_ID_PATTERN), AfterValidator(_plain_path_segments)
]
CarrierId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
# The carrier_id of an event whose message names no carrier (an arrival notification, a
# frontier crossing): it makes no claim, and the consignment's carrier comes from the
# events that name one. No key may be issued for it.
CARRIER_NOT_NAMED = "not-named"
# No NUL: PostgreSQL text and JSONB cannot hold it, and one would poison the pipeline.
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]

# The instants an event may carry. The window is narrower than 2**31 - 1 seconds, so any
# duration between two of them (dwell, travel, TFI1) fits a signed 32-bit integer column:
# a poison pair of instants cannot overflow the database. Ingest narrows the upper end
# further to "now plus the allowed clock skew".
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2068, 1, 1, tzinfo=UTC)
INTEGER_COLUMN_MAX = 2**31 - 1  # PostgreSQL `integer`: stays, legs and crossings durations

# RFC 3339 date-time with an explicit offset; no epoch numbers, no offset-less times.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339(value: object) -> object:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-11-20T06:15:00Z")
    return value


def _within_window(value: datetime) -> datetime:
    # Compared before any conversion to UTC, which would overflow at years 1 and 9999.
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise ValueError(
            f"must be from {EARLIEST_INSTANT.isoformat()} and before {LATEST_INSTANT.isoformat()}"
        )
    return value


Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_within_window),
    Field(
        json_schema_extra={
            "formatMinimum": EARLIEST_INSTANT.isoformat(),
            "formatExclusiveMaximum": LATEST_INSTANT.isoformat(),
        }
    ),
]


class EventType(StrEnum):
    """What happened, as a past-tense fact of the consignment's journey."""

    # Declaration and TIR/transit operation lifecycle (eTIR, NCTS).
    DECLARATION_SUBMITTED = "declaration.submitted"
    DECLARATION_ACCEPTED = "declaration.accepted"
    DECLARATION_REJECTED = "declaration.rejected"
    BORDER_PRENOTIFIED = "border.prenotified"
    OPERATION_STARTED = "operation.started"
    OPERATION_TERMINATED = "operation.terminated"
    OPERATION_DISCHARGED = "operation.discharged"
    GOODS_RELEASED = "goods.released"
    CONSIGNMENT_CANCELLED = "consignment.cancelled"
    INCIDENT_REPORTED = "incident.reported"
    SEALS_CHECKED = "seals.checked"
    # Gate events at a border crossing point or port: what dwell time is measured on.
    GATE_ARRIVED = "gate.arrived"
    INSPECTION_STARTED = "inspection.started"
    INSPECTION_COMPLETED = "inspection.completed"
    GATE_RELEASED = "gate.released"
    GATE_DEPARTED = "gate.departed"
    # Caspian sea legs: port events of our own, keyed by port.
    VESSEL_LOADED = "vessel.loaded"
    VESSEL_DEPARTED = "vessel.departed"
    VESSEL_ARRIVED = "vessel.arrived"
    VESSEL_UNLOADED = "vessel.unloaded"
    # Bilateral road transport permits (e-Permit ledger).
    PERMIT_ISSUED = "permit.issued"
    PERMIT_USED = "permit.used"
    PERMIT_REVOKED = "permit.revoked"


# Ties on `occurred_at` are broken by where an event sits in a visit's natural order,
# so that the same set of events always yields the same timeline.
LIFECYCLE_RANK: dict[EventType, int] = {
    event_type: rank
    for rank, event_type in enumerate(
        [
            EventType.PERMIT_ISSUED,
            EventType.DECLARATION_SUBMITTED,
            EventType.DECLARATION_REJECTED,
            EventType.DECLARATION_ACCEPTED,
            EventType.BORDER_PRENOTIFIED,
            EventType.VESSEL_ARRIVED,
            EventType.GATE_ARRIVED,
            EventType.VESSEL_UNLOADED,
            EventType.OPERATION_STARTED,
            EventType.PERMIT_USED,
            EventType.INSPECTION_STARTED,
            EventType.SEALS_CHECKED,
            EventType.INCIDENT_REPORTED,
            EventType.INSPECTION_COMPLETED,
            EventType.GATE_RELEASED,
            EventType.OPERATION_TERMINATED,
            EventType.VESSEL_LOADED,
            EventType.GATE_DEPARTED,
            EventType.VESSEL_DEPARTED,
            EventType.GOODS_RELEASED,
            EventType.OPERATION_DISCHARGED,
            EventType.PERMIT_REVOKED,
            EventType.CONSIGNMENT_CANCELLED,
        ]
    )
}

# A visit to a location opens with an arrival and closes with a departure; at a sea
# port the vessel's arrival or departure plays the gate's part.
ARRIVAL_TYPES = frozenset({EventType.GATE_ARRIVED, EventType.VESSEL_ARRIVED})
DEPARTURE_TYPES = frozenset({EventType.GATE_DEPARTED, EventType.VESSEL_DEPARTED})


class SourceSystem(StrEnum):
    ETIR = "etir"
    NCTS = "ncts"
    EPERMIT = "epermit"
    GATE = "gate"
    PORT = "port"


class TransportMode(StrEnum):
    ROAD = "road"
    RAIL = "rail"
    SEA = "sea"


class BorderDirection(StrEnum):
    """CPMM's direction, relative to the country of the event's location."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class InspectionChannel(StrEnum):
    """Risk channel of the customs control decision (WCO TRS segments on it)."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


class PermitActivity(StrEnum):
    # The e-Permit reference code says ENTRANCE where its spec text says ENTRY.
    ENTRANCE = "ENTRANCE"
    EXIT = "EXIT"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Source(_Strict):
    """Which system reported the event, and its own message identity."""

    system: SourceSystem
    message_type: ShortText | None = Field(default=None, examples=["CC029C", "I9", "PERMIT_USED"])
    message_id: ShortText | None = None


class References(_Strict):
    """Every identifier the consignment is known by; any of them finds it again."""

    tir_carnet: ShortText | None = Field(default=None, examples=["XH12345678"])
    mrn: ShortText | None = Field(default=None, examples=["24KZ0001000012345X"])
    permit_id: ShortText | None = Field(default=None, examples=["TR-AZ-2026-1-1042"])
    # Bounded: a truck and its trailers, a train's containers; more is a broken sender.
    vehicle_plates: tuple[ShortText, ...] = Field(default=(), max_length=MAX_PLATES)
    container_numbers: tuple[ShortText, ...] = Field(
        default=(), max_length=MAX_CONTAINERS, examples=[("CSQU3054383",)]
    )


class EventAttributes(_Strict):
    """Typed details that only some event types carry."""

    direction: BorderDirection | None = None
    mode: TransportMode | None = None
    route_id: ShortText | None = Field(
        default=None, description="Declared route (reference data id), on declaration events."
    )
    seals: tuple[ShortText, ...] | None = Field(
        default=None,
        max_length=MAX_SEALS,
        description="Seal numbers seen, on seal checks and gate events.",
    )
    vessel: ShortText | None = Field(default=None, description="Vessel name or IMO number.")
    voyage: ShortText | None = None
    permit_activity: PermitActivity | None = None
    permit_expires_at: Instant | None = None
    inspection_channel: InspectionChannel | None = None
    customs_office: ShortText | None = Field(default=None, examples=["KZ000123"])
    reason: ShortText | None = Field(
        default=None, description="Why: rejection reason, incident kind, cancellation cause."
    )
    # Left out of the JSON when empty: the canonical JSON (and so the fingerprint) of an
    # event without warnings stays what it was before the field existed.
    warnings: tuple[ShortText, ...] | None = Field(
        default=None,
        exclude_if=lambda warnings: not warnings,
        max_length=MAX_CONTAINERS,
        description="What the source message was admitted with but is worth fixing, "
        "e.g. a container number failing the ISO 6346 check digit.",
    )


_CACHES = ("_sort_key", "_fingerprint", "_json")

# pydantic gives every model instance its own set of the field names the input named
# (`model_fields_set`): ~700 bytes each, four per event with the nested models, over half
# of a decoded event's memory. Nothing here reads them (no `exclude_unset`), the models are
# frozen, and pydantic copies the set before changing it (`model_copy`), so instances
# that named the same fields share one set. Bounded: one set per combination of fields.
_SHARED_FIELDS_SETS: dict[frozenset[str], set[str]] = {}


def _share_fields_set(model: BaseModel) -> None:
    own = model.__pydantic_fields_set__
    shared = _SHARED_FIELDS_SETS.setdefault(frozenset(own), own)
    if shared is not own:
        object.__setattr__(model, "__pydantic_fields_set__", shared)


class TransitEvent(_Strict):
    """One fact about one consignment at one place and time."""

    schema_version: Literal["1.0"] = SCHEMA_VERSION
    event_id: UUID = Field(description="Idempotency key: a re-sent event keeps its id.")
    event_type: EventType
    occurred_at: Instant = Field(
        description="When it happened: RFC 3339 with a UTC offset, from 2000-01-01T00:00:00Z "
        "and at most the allowed clock skew (ingest's setting) in the future."
    )
    location: LocationCode = Field(examples=["KZ-NUR-ZHOLY"])
    consignment_id: ConsignmentId
    carrier_id: CarrierId
    references: References = References()
    source: Source
    attributes: EventAttributes = EventAttributes()

    def model_post_init(self, context: Any, /) -> None:
        # Called once after every validation: one Python call per event does both jobs a
        # field validator and pydantic's private attributes would do in two (each event
        # is decoded by ingest and again by the tracker, so this is a hot path).
        occurred_at = self.occurred_at
        if occurred_at.tzinfo is not UTC:
            # One representation per instant, so equal events compare, hash and digest alike.
            self.__dict__["occurred_at"] = occurred_at.astimezone(UTC)
        # Sort key, canonical JSON and digest are asked for again and again while
        # timelines are rebuilt; the model is frozen, so each is computed once per
        # instance, and kept outside the fields: equality and copies ignore them.
        object.__setattr__(self, "__pydantic_private__", dict.fromkeys(_CACHES))
        for model in (self, self.references, self.source, self.attributes):
            _share_fields_set(model)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TransitEvent):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((self.event_id, self.occurred_at, self.event_type))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        copy = super().model_copy(update=update, deep=deep)
        if update:  # new content: the cached digest and order key no longer apply
            object.__setattr__(copy, "__pydantic_private__", dict.fromkeys(_CACHES))
        return copy

    @property
    def sort_key(self) -> tuple[datetime, int, str]:
        """Timeline order: time, then lifecycle rank, then id, so any order sorts alike."""
        cache: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key: tuple[datetime, int, str] | None = cache["_sort_key"]
        if key is None:
            key = (self.occurred_at, LIFECYCLE_RANK[self.event_type], str(self.event_id))
            cache["_sort_key"] = key
        return key

    def canonical_json(self) -> str:
        """The event as JSON, every field present: what is hashed, stored and sent."""
        cache: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        text: str | None = cache["_json"]
        if text is None:
            text = cache["_json"] = self.model_dump_json(exclude_none=False)
        return text

    def fingerprint(self) -> str:
        """Digest of the content, to tell a faithful re-send from a conflicting one."""
        cache: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        digest: str | None = cache["_fingerprint"]
        if digest is None:
            canonical = self.canonical_json().encode()
            digest = cache["_fingerprint"] = hashlib.sha256(canonical).hexdigest()
        return digest

    def adopt_canonical_json(self, text: str, fingerprint: str) -> None:
        """Take `text` as this event's canonical JSON and `fingerprint` as its digest,
        instead of serialising the event again. Only for a caller that can vouch for
        both: `text` parsed into this event and was written by `canonical_json` (the
        CloudEvents binding does, for a body whose declared digest it checked)."""
        cache: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        cache["_json"] = text
        cache["_fingerprint"] = fingerprint
