"""eTIR messages in our documented JSON form, mapped to transit events.

No public eTIR schema or sample exists, so this form is modelled on the message content
of the UNECE eTIR specification (v4.3): I9 start, I11 termination, I13 discharge and
I15 border pre-notification of a TIR operation, and E9 advance cargo information.
docs/ingest.md documents the form. The event id is a uuid5 over (message type,
carnet, customs office): eTIR itself refuses a repeated start, termination or discharge.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from corridor.errors import InvalidEvent
from corridor.events import (
    EventAttributes,
    EventType,
    InspectionChannel,
    Instant,
    References,
    ShortText,
    Source,
    SourceSystem,
)
from corridor.identifiers import validate_tir_carnet, validate_tir_holder_id
from corridor.reference import CorridorReference
from services.common.problems import field_path
from services.ingest.adapters.base import (
    EventDraft,
    MappedMessage,
    ReferenceKind,
    Subject,
    event_id,
    location_of_office,
)

EVENT_TYPES: dict[str, EventType] = {
    "E3": EventType.CONSIGNMENT_CANCELLED,
    "E9": EventType.DECLARATION_SUBMITTED,
    "E11": EventType.DECLARATION_SUBMITTED,
    "I7": EventType.DECLARATION_ACCEPTED,
    "I17": EventType.DECLARATION_REJECTED,
    "I9": EventType.OPERATION_STARTED,
    "I11": EventType.OPERATION_TERMINATED,
    "I13": EventType.OPERATION_DISCHARGED,
    "I15": EventType.BORDER_PRENOTIFIED,
}


class EtirMessage(BaseModel):
    """One eTIR message: what happened to which TIR operation, where and when."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    message_type: Literal["E3", "E9", "E11", "I7", "I9", "I11", "I13", "I15", "I17"] = Field(
        alias="messageType"
    )
    message_id: ShortText = Field(alias="messageId")
    tir_carnet: ShortText = Field(alias="tirCarnet", examples=["XH12345678"])
    holder_id: ShortText = Field(alias="holderId", examples=["KAZ/001/1234567"])
    customs_office: ShortText = Field(alias="customsOffice", examples=["KZ000123"])
    occurred_at: Instant = Field(alias="occurredAt")
    carrier_id: ShortText | None = Field(default=None, alias="carrierId")
    mrn: ShortText | None = None
    seals: tuple[ShortText, ...] = ()
    vehicle_plates: tuple[ShortText, ...] = Field(default=(), alias="vehiclePlates")
    container_numbers: tuple[ShortText, ...] = Field(default=(), alias="containerNumbers")
    control_result: InspectionChannel | None = Field(default=None, alias="controlResult")
    remarks: ShortText | None = None


def to_message(document: Any, reference: CorridorReference) -> MappedMessage:
    try:
        message = EtirMessage.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidEvent(field_path(first["loc"]), first["msg"]) from None
    carnet = validate_tir_carnet(message.tir_carnet, field="tirCarnet")
    holder = validate_tir_holder_id(message.holder_id, field="holderId")
    location = location_of_office(reference, message.customs_office, "customsOffice")
    try:
        draft = EventDraft(
            event_id=event_id(
                SourceSystem.ETIR, message.message_type, carnet, message.customs_office
            ),
            event_type=EVENT_TYPES[message.message_type],
            occurred_at=message.occurred_at,
            location=location,
            source=Source(
                system=SourceSystem.ETIR,
                message_type=message.message_type,
                message_id=message.message_id,
            ),
            references=References(
                tir_carnet=carnet,
                mrn=message.mrn,
                vehicle_plates=message.vehicle_plates,
                container_numbers=message.container_numbers,
            ),
            attributes=EventAttributes(
                customs_office=message.customs_office,
                seals=message.seals or None,
                inspection_channel=message.control_result,
                reason=message.remarks,
            ),
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidEvent(field_path(first["loc"]), first["msg"]) from None
    subject = Subject(
        lookups=((ReferenceKind.TIR_CARNET, carnet),),
        consignment_fallback=carnet,
        consignment_field="tirCarnet",
        # The holder id's slashes are not allowed in carrier ids: AAA/BBB/NNN -> AAA-BBB-NNN.
        carrier=message.carrier_id or holder.replace("/", "-"),
        carrier_field="carrierId",
    )
    return MappedMessage(subject, (draft,))


EXAMPLE: dict[str, Any] = {
    "messageType": "I9",
    "messageId": "ETIR-KZ-2026-0000815",
    "tirCarnet": "XH12345678",
    "holderId": "KAZ/001/1234567",
    "customsOffice": "KZ000123",
    "occurredAt": "2026-11-20T06:40:00+05:00",
    "seals": ["KZ-SEAL-0042"],
    "vehiclePlates": ["123ABC02"],
    "controlResult": "green",
}
