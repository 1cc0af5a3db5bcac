"""e-Permit ledger events (e-permit/e-permit-java) mapped to transit events.

The reference implementation's public API and ledger speak snake_case JSON (Spring
`SNAKE_CASE`, Gson `LOWER_CASE_WITH_UNDERSCORES`): `event_id`, `permit_id`,
`expires_at`, ... The older camelCase layout (`eventId`, `expireAt`) is accepted too;
errors name the field as the sender spelled it.

PERMIT_CREATED -> permit.issued, PERMIT_USED -> permit.used (ENTRANCE inbound, EXIT
outbound), PERMIT_REVOKED -> permit.revoked. QUOTA_CREATED, KEY_CREATED and KEY_REVOKED
are ledger housekeeping, not a permit's journey: ignored. A ledger event names no place,
so the location comes from the caller. Times are epoch seconds; issued_at/expires_at are
dd/MM/yyyy dates, and a permit expires at the end of its expires_at day in the
location's time zone. Only PERMIT_CREATED names a company (the carrier).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from corridor.errors import InvalidEvent
from corridor.events import (
    EARLIEST_INSTANT,
    LATEST_INSTANT,
    BorderDirection,
    EventAttributes,
    EventType,
    PermitActivity,
    References,
    ShortText,
    Source,
    SourceSystem,
)
from corridor.identifiers import validate_permit_id
from corridor.reference import CorridorReference
from services.ingest.adapters.base import (
    EventDraft,
    MappedMessage,
    ReferenceKind,
    Subject,
    event_id,
)

EpochSeconds = Annotated[int, Field(ge=1_609_459_200, le=4_102_444_800)]  # 2021 .. 2100
LedgerDate = Annotated[str, Field(pattern=r"^(0?[1-9]|[12][0-9]|3[01])/(0?[1-9]|1[012])/\d{4}$")]

# Ledger events about the ledger itself (quotas, signing keys): no permit moved.
IGNORED_EVENT_TYPES = frozenset({"QUOTA_CREATED", "KEY_CREATED", "KEY_REVOKED"})


class _LedgerEvent(BaseModel):
    # The ledger carries more than tracking needs (issuer, claims, QR code, ...): ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    event_id: Annotated[str, Field(min_length=16, max_length=100)]
    previous_event_id: str | None = None
    event_producer: ShortText
    event_consumer: ShortText
    event_timestamp: EpochSeconds
    permit_id: ShortText


class PermitCreated(_LedgerEvent):
    event_type: Literal["PERMIT_CREATED"]
    permit_type: int | str
    permit_year: int = Field(ge=2021, le=2100)
    issued_at: LedgerDate
    # The reference implementation renamed expireAt to expires_at; both are read.
    expires_at: LedgerDate = Field(validation_alias=AliasChoices("expires_at", "expire_at"))
    company_id: ShortText
    company_name: ShortText | None = None
    plate_number: ShortText | None = None
    plate_number2: ShortText | None = None


class PermitUsed(_LedgerEvent):
    event_type: Literal["PERMIT_USED"]
    activity_type: PermitActivity
    activity_timestamp: EpochSeconds
    activity_details: str | None = None


class PermitRevoked(_LedgerEvent):
    event_type: Literal["PERMIT_REVOKED"]
    revoked_at: EpochSeconds | None = None


LedgerEvent = Annotated[
    PermitCreated | PermitUsed | PermitRevoked, Field(discriminator="event_type")
]
_ADAPTER: TypeAdapter[PermitCreated | PermitUsed | PermitRevoked] = TypeAdapter(LedgerEvent)
_DIRECTIONS = {
    PermitActivity.ENTRANCE: BorderDirection.INBOUND,
    PermitActivity.EXIT: BorderDirection.OUTBOUND,
}
_CAMEL_HUMP = re.compile(r"(?<=[a-z0-9])([A-Z])")


def ignored_event_type(document: Any) -> str | None:
    """The event type of a ledger event that is not about a permit's journey, else None."""
    if not isinstance(document, dict):
        return None
    kind = document.get("event_type", document.get("eventType"))
    return kind if isinstance(kind, str) and kind in IGNORED_EVENT_TYPES else None


def to_message(document: Any, reference: CorridorReference, location: str) -> MappedMessage:
    if not isinstance(document, dict):
        raise InvalidEvent(
            "body", f"a ledger event is a JSON object, not {type(document).__name__}"
        )
    spelled = {_snake(str(key)): str(key) for key in document}
    snake = {_snake(str(key)): value for key, value in document.items()}
    try:
        ledger = _ADAPTER.validate_python(snake)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(part) for part in first["loc"]]
        if first["type"] == "union_tag_invalid" or not loc:
            name = "event_type"
        else:
            name = loc[1] if len(loc) > 1 else loc[0]
        raise InvalidEvent(spelled.get(name, name), first["msg"]) from None
    permit_id = validate_permit_id(ledger.permit_id, field=spelled["permit_id"])
    zone = ZoneInfo(reference.location(location).timezone)
    occurred_at = datetime.fromtimestamp(ledger.event_timestamp, UTC)
    attributes = EventAttributes()
    plates: tuple[str, ...] = ()
    identity: tuple[str, ...] = ("created",)
    event_type = EventType.PERMIT_ISSUED
    if isinstance(ledger, PermitCreated):
        expires_field = spelled.get("expires_at") or spelled.get("expire_at") or "expires_at"
        attributes = EventAttributes(
            permit_expires_at=_end_of_day(ledger.expires_at, zone, expires_field)
        )
        plates = tuple(p for p in (ledger.plate_number, ledger.plate_number2) if p)
    elif isinstance(ledger, PermitUsed):
        event_type, identity = (
            EventType.PERMIT_USED,
            (ledger.activity_type, str(ledger.activity_timestamp)),
        )
        occurred_at = datetime.fromtimestamp(ledger.activity_timestamp, UTC)
        attributes = EventAttributes(
            permit_activity=ledger.activity_type, direction=_DIRECTIONS[ledger.activity_type]
        )
    else:
        event_type, identity = EventType.PERMIT_REVOKED, ("revoked",)
        if ledger.revoked_at is not None:
            occurred_at = datetime.fromtimestamp(ledger.revoked_at, UTC)
    draft = EventDraft(
        event_id=event_id(SourceSystem.EPERMIT, permit_id, *identity),
        event_type=event_type,
        occurred_at=occurred_at,
        location=location,
        source=Source(
            system=SourceSystem.EPERMIT, message_type=ledger.event_type, message_id=ledger.event_id
        ),
        references=References(permit_id=permit_id, vehicle_plates=plates),
        attributes=attributes,
    )
    subject = Subject(
        lookups=((ReferenceKind.PERMIT_ID, permit_id),),
        consignment_fallback=permit_id,
        consignment_field=spelled["permit_id"],
        carrier=ledger.company_id if isinstance(ledger, PermitCreated) else None,
        carrier_field=spelled.get("company_id", "company_id"),
    )
    return MappedMessage(subject, (draft,))


def _snake(key: str) -> str:
    return _CAMEL_HUMP.sub(r"_\1", key).lower()


def _end_of_day(ledger_date: str, zone: ZoneInfo, field: str) -> datetime:
    day, month, year = (int(part) for part in ledger_date.split("/"))
    try:
        start = datetime.combine(datetime(year, month, day).date(), time(), zone)
    except ValueError as exc:
        raise InvalidEvent(field, f"{ledger_date!r} is not a usable date: {exc}") from None
    # Checked before adding the day, which would overflow at the end of year 9999.
    if not EARLIEST_INSTANT <= start < LATEST_INSTANT - timedelta(days=1):
        raise InvalidEvent(
            field, f"{ledger_date!r} is outside {EARLIEST_INSTANT.year}..{LATEST_INSTANT.year}"
        )
    return start + timedelta(days=1)


EXAMPLE: dict[str, Any] = {
    "event_id": "0b8e6f7c-3a5d-4e21-9c4b-7d1f2e3a4b5c",
    "previous_event_id": "9d2c1b0a-8f7e-4d6c-b5a4-3e2f1a0b9c8d",
    "event_producer": "AZ",
    "event_consumer": "KZ",
    "event_timestamp": 1795150800,
    "event_type": "PERMIT_USED",
    "permit_id": "KZ-AZ-2026-1-1042",
    "activity_type": "ENTRANCE",
    "activity_timestamp": 1795150800,
    "activity_details": "Alat port, ferry from Kuryk",
}
