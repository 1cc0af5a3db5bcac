"""e-Permit ledger events (the e-permit/e-permit-java JSON shape) mapped to transit events.

PERMIT_CREATED -> permit.issued, PERMIT_USED -> permit.used (ENTRANCE inbound, EXIT
outbound), PERMIT_REVOKED -> permit.revoked. A ledger event names no place, so the
location comes from the caller (query parameter, or the key's only location). Times are
epoch seconds; issuedAt/expireAt are dd/MM/yyyy dates, and a permit is taken to expire
at the end of its expireAt day in the location's time zone.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

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
from services.common.problems import field_path
from services.ingest.adapters.base import (
    EventDraft,
    MappedMessage,
    ReferenceKind,
    Subject,
    event_id,
)

EpochSeconds = Annotated[int, Field(ge=1_609_459_200, le=4_102_444_800)]  # 2021 .. 2100
LedgerDate = Annotated[str, Field(pattern=r"^(0?[1-9]|[12][0-9]|3[01])/(0?[1-9]|1[012])/\d{4}$")]


class _LedgerEvent(BaseModel):
    # The ledger carries more than tracking needs (issuer, claims, ...): ignored.
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)

    event_id: ShortText = Field(alias="eventId")
    previous_event_id: str | None = Field(default=None, alias="previousEventId")
    event_producer: ShortText = Field(alias="eventProducer")
    event_consumer: ShortText = Field(alias="eventConsumer")
    event_timestamp: EpochSeconds = Field(alias="eventTimestamp")
    permit_id: ShortText = Field(alias="permitId")


class PermitCreated(_LedgerEvent):
    event_type: Literal["PERMIT_CREATED"] = Field(alias="eventType")
    permit_type: int | str = Field(alias="permitType")
    permit_year: int = Field(alias="permitYear", ge=2021, le=2100)
    serial_number: int = Field(alias="serialNumber", ge=1)
    issued_at: LedgerDate = Field(alias="issuedAt")
    expire_at: LedgerDate = Field(alias="expireAt")
    company_id: ShortText = Field(alias="companyId")
    company_name: ShortText = Field(alias="companyName")
    plate_number: ShortText = Field(alias="plateNumber")


class PermitUsed(_LedgerEvent):
    event_type: Literal["PERMIT_USED"] = Field(alias="eventType")
    activity_type: PermitActivity = Field(alias="activityType")
    activity_timestamp: EpochSeconds = Field(alias="activityTimestamp")
    activity_details: str | None = Field(default=None, alias="activityDetails")


class PermitRevoked(_LedgerEvent):
    event_type: Literal["PERMIT_REVOKED"] = Field(alias="eventType")


LedgerEvent = Annotated[
    PermitCreated | PermitUsed | PermitRevoked, Field(discriminator="event_type")
]
_ADAPTER: TypeAdapter[PermitCreated | PermitUsed | PermitRevoked] = TypeAdapter(LedgerEvent)
_DIRECTIONS = {
    PermitActivity.ENTRANCE: BorderDirection.INBOUND,
    PermitActivity.EXIT: BorderDirection.OUTBOUND,
}


def to_message(document: Any, reference: CorridorReference, location: str) -> MappedMessage:
    try:
        ledger = _ADAPTER.validate_python(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first["loc"][1:] if first["type"] != "union_tag_invalid" else ("eventType",)
        raise InvalidEvent(field_path(loc), first["msg"]) from None
    permit_id = validate_permit_id(ledger.permit_id, field="permitId")
    zone = ZoneInfo(reference.location(location).timezone)
    occurred_at = datetime.fromtimestamp(ledger.event_timestamp, UTC)
    attributes = EventAttributes()
    plates: tuple[str, ...] = ()
    identity: tuple[str, ...] = ("created",)
    event_type = EventType.PERMIT_ISSUED
    if isinstance(ledger, PermitCreated):
        attributes = EventAttributes(permit_expires_at=_end_of_day(ledger.expire_at, zone))
        plates = (ledger.plate_number,)
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
        consignment_field="permitId",
        carrier_fallback=ledger.company_id if isinstance(ledger, PermitCreated) else None,
        carrier_field="companyId",
    )
    return MappedMessage(subject, (draft,))


def _end_of_day(ledger_date: str, zone: ZoneInfo) -> datetime:
    day, month, year = (int(part) for part in ledger_date.split("/"))
    try:
        start = datetime.combine(datetime(year, month, day).date(), time(), zone)
    except ValueError as exc:
        raise InvalidEvent("expireAt", f"{ledger_date!r} is not a date: {exc}") from None
    # Checked before adding the day, which would overflow at the end of year 9999.
    if not EARLIEST_INSTANT <= start < LATEST_INSTANT - timedelta(days=1):
        raise InvalidEvent(
            "expireAt", f"{ledger_date!r} is outside {EARLIEST_INSTANT.year}..{LATEST_INSTANT.year}"
        )
    return start + timedelta(days=1)


EXAMPLE: dict[str, Any] = {
    "eventId": "0b8e6f7c-3a5d-4e21-9c4b-7d1f2e3a4b5c",
    "previousEventId": "9d2c1b0a-8f7e-4d6c-b5a4-3e2f1a0b9c8d",
    "eventProducer": "AZ",
    "eventConsumer": "KZ",
    "eventTimestamp": 1795150800,
    "eventType": "PERMIT_USED",
    "permitId": "KZ-AZ-2026-1-1042",
    "activityType": "ENTRANCE",
    "activityTimestamp": 1795150800,
    "activityDetails": "Alat port, ferry from Kuryk",
}
