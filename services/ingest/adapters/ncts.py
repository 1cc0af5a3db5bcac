"""NCTS phase 5/6 XML messages (namespace http://ncts.dgtaxud.ec) mapped to transit events.

Parsed with defusedxml: a DTD, entity declaration or external reference is refused
before anything is expanded, and the body size is capped. NCTS date-times carry no
offset: they are read in the time zone of the location the customs office reports for.
The event id is a uuid5 over (message type, MRN or LRN, customs office), so the same
fact re-sent, even under a new messageIdentification, maps to the same event.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from corridor.errors import InvalidEvent
from corridor.events import (
    BorderDirection,
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransportMode,
)
from corridor.reference import CorridorReference
from services.ingest.adapters.base import (
    EventDraft,
    MalformedMessage,
    MappedMessage,
    ReferenceKind,
    Subject,
    UnsafeXml,
    event_id,
    location_of_office,
    parse_local_time,
)

NAMESPACE = "http://ncts.dgtaxud.ec"
DEFAULT_MAX_BYTES = 1_000_000
_MODES = {"1": TransportMode.SEA, "2": TransportMode.RAIL, "3": TransportMode.ROAD}
_ROAD_VEHICLE_ID_TYPES = {"30", "31"}  # registration number of the road vehicle / trailer


@dataclass(frozen=True, slots=True)
class _Rule:
    event_type: EventType
    offices: tuple[str, ...]  # the customs office element(s), first present wins
    times: tuple[str, ...] = ()  # when it happened; else preparationDateAndTime
    each_office: bool = False  # one event per office named (anticipated records)
    direction: BorderDirection | None = None


RULES: dict[str, _Rule] = {
    "CC015C": _Rule(EventType.DECLARATION_SUBMITTED, ("CustomsOfficeOfDeparture",)),
    "CC028C": _Rule(EventType.DECLARATION_ACCEPTED, ("CustomsOfficeOfDeparture",)),
    "CC056C": _Rule(
        EventType.DECLARATION_REJECTED,
        ("CustomsOfficeOfDeparture",),
        ("TransitOperation/rejectionDateAndTime",),
    ),
    "CC029C": _Rule(EventType.OPERATION_STARTED, ("CustomsOfficeOfDeparture",)),
    "CC050C": _Rule(
        EventType.BORDER_PRENOTIFIED, ("CustomsOfficeOfTransitDeclared",), each_office=True
    ),
    "CC160C": _Rule(
        EventType.BORDER_PRENOTIFIED,
        ("CustomsOfficeOfExitForTransitDeclared",),
        each_office=True,
        direction=BorderDirection.OUTBOUND,
    ),
    "CC118C": _Rule(
        EventType.OPERATION_STARTED,
        ("CustomsOfficeOfTransitActual",),
        (
            "CustomsOfficeOfTransitActual/arrivalDateAndTimeActual",
            "TransitOperation/notificationDateAndTime",
        ),
        direction=BorderDirection.INBOUND,
    ),
    "CC168C": _Rule(
        EventType.OPERATION_TERMINATED,
        ("CustomsOfficeOfExitForTransitActual",),
        ("TransitOperation/exitDateAndTime", "TransitOperation/notificationDateAndTime"),
        direction=BorderDirection.OUTBOUND,
    ),
    "CC007C": _Rule(
        EventType.OPERATION_TERMINATED,
        ("CustomsOfficeOfDestinationActual",),
        ("TransitOperation/arrivalNotificationDateAndTime",),
    ),
    "CC025C": _Rule(EventType.GOODS_RELEASED, ("CustomsOfficeOfDestinationActual",)),
    "CC045C": _Rule(EventType.OPERATION_DISCHARGED, ("CustomsOfficeOfDeparture",)),
    "CC009C": _Rule(
        EventType.CONSIGNMENT_CANCELLED,
        ("CustomsOfficeOfDeparture",),
        ("Invalidation/decisionDateAndTime",),
    ),
}


def parse(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Element:
    """The message's root element; refuses oversize, DTDs, entities and non-NCTS roots."""
    if len(body) > max_bytes:
        raise MalformedMessage("body", f"an NCTS message may be at most {max_bytes} bytes")
    try:
        root: Element = fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise UnsafeXml(
            "body", f"DTDs, entities and external references are refused ({exc!r})"
        ) from None
    except ParseError as exc:
        raise MalformedMessage("body", f"malformed XML: {exc}") from None
    if not root.tag.startswith("{" + NAMESPACE + "}"):
        raise MalformedMessage("body", f"root element {root.tag!r} is not in namespace {NAMESPACE}")
    return root


def to_message(
    body: bytes, reference: CorridorReference, *, max_bytes: int = DEFAULT_MAX_BYTES
) -> MappedMessage:
    root = parse(body, max_bytes=max_bytes)
    message_type = root.tag.rpartition("}")[2]
    rule = RULES.get("CC" + message_type[2:] if message_type.startswith("CD") else message_type)
    if rule is None:
        raise InvalidEvent(
            "messageType",
            f"{message_type} is not a message ingest maps (one of {', '.join(sorted(RULES))})",
        )
    mrn, lrn = _text(root, "TransitOperation/MRN"), _text(root, "TransitOperation/LRN")
    if mrn is None and lrn is None:
        raise InvalidEvent(
            "TransitOperation.MRN", "an MRN (or, before allocation, an LRN) is required"
        )
    if message_type.endswith("009C") and _text(root, "Invalidation/decision") == "0":
        return MappedMessage(_subject(root, mrn, lrn), ())  # cancellation refused: nothing happened
    try:
        drafts = tuple(_drafts(root, message_type, rule, reference, mrn, lrn))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidEvent(".".join(str(p) for p in first["loc"]), first["msg"]) from None
    return MappedMessage(_subject(root, mrn, lrn), drafts)


def _drafts(
    root: Element,
    message_type: str,
    rule: _Rule,
    reference: CorridorReference,
    mrn: str | None,
    lrn: str | None,
) -> list[EventDraft]:
    offices = _offices(root, rule)
    source = Source(
        system=SourceSystem.NCTS,
        message_type=message_type,
        message_id=_text(root, "messageIdentification"),
    )
    references = References(
        mrn=mrn,
        tir_carnet=_text(root, "TransitOperation/TIRCarnetNumber"),
        container_numbers=tuple(
            _texts(root, "Consignment/TransportEquipment/containerIdentificationNumber")
        ),
        vehicle_plates=tuple(
            text
            for means in root.iterfind("Consignment/DepartureTransportMeans")
            if _text(means, "typeOfIdentification") in _ROAD_VEHICLE_ID_TYPES
            and (text := _text(means, "identificationNumber")) is not None
        ),
    )
    seals = tuple(_texts(root, "Consignment/TransportEquipment/Seal/identifier"))
    drafts = []
    for element, office in offices:
        location = location_of_office(reference, office, f"{element}.referenceNumber")
        zone = reference.location(location).timezone
        time_path = next((p for p in rule.times if _text(root, p)), "preparationDateAndTime")
        raw_time = _text(root, time_path)
        if raw_time is None:
            raise InvalidEvent("preparationDateAndTime", "is required")
        identity: tuple[str, ...] = (message_type[2:], mrn or lrn or "", office)
        if rule.event_type is EventType.DECLARATION_REJECTED:
            identity += (_text(root, "messageIdentification") or raw_time,)
        drafts.append(
            EventDraft(
                event_id=event_id(SourceSystem.NCTS, *identity),
                event_type=rule.event_type,
                occurred_at=parse_local_time(raw_time, zone, time_path.replace("/", ".")),
                location=location,
                source=source,
                references=references,
                attributes=EventAttributes(
                    customs_office=office,
                    direction=rule.direction,
                    mode=_MODES.get(_text(root, "Consignment/modeOfTransportAtTheBorder") or ""),
                    seals=seals or None,
                    reason=_reason(root),
                ),
            )
        )
    return drafts


def _offices(root: Element, rule: _Rule) -> list[tuple[str, str]]:
    for element in rule.offices:
        found = [(element, office) for office in _texts(root, f"{element}/referenceNumber")]
        if found:
            return found if rule.each_office else found[:1]
    raise InvalidEvent(f"{rule.offices[0]}.referenceNumber", "a customs office is required")


def _subject(root: Element, mrn: str | None, lrn: str | None) -> Subject:
    lookups = [(ReferenceKind.MRN, mrn)] if mrn else []
    lookups += [(ReferenceKind.LRN, lrn)] if lrn else []
    carrier = _text(root, "Consignment/Carrier/identificationNumber") or _text(
        root, "HolderOfTheTransitProcedure/identificationNumber"
    )
    return Subject(
        lookups=tuple(lookups),
        consignment_fallback=mrn or lrn,
        consignment_field="TransitOperation.MRN",
        carrier=carrier,
        carrier_field="Consignment.Carrier.identificationNumber",
    )


def _reason(root: Element) -> str | None:
    for path in (
        "TransitOperation/rejectionReason",
        "TransitOperation/rejectionCode",
        "FunctionalError/errorCode",
        "Invalidation/justification",
    ):
        if (text := _text(root, path)) is not None:
            return text[:200]
    return None


def _text(element: Element, path: str) -> str | None:
    found = element.find(path)
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _texts(element: Element, path: str) -> list[str]:
    return [e.text.strip() for e in element.iterfind(path) if e.text and e.text.strip()]


EXAMPLE = """<?xml version="1.0" encoding="UTF-8"?>
<ncts:CC029C PhaseID="NCTS5.1" xmlns:ncts="http://ncts.dgtaxud.ec">
  <messageSender>KZ-NCTS</messageSender>
  <messageRecipient>TRADER.KZ</messageRecipient>
  <preparationDateAndTime>2026-11-20T09:40:00</preparationDateAndTime>
  <messageIdentification>KZ20261120094000</messageIdentification>
  <messageType>CC029C</messageType>
  <TransitOperation>
    <LRN>KZTRD-2026-000123</LRN>
    <MRN>24KZ000123T0001236</MRN>
    <declarationAcceptanceDate>2026-11-20</declarationAcceptanceDate>
    <releaseDate>2026-11-20</releaseDate>
  </TransitOperation>
  <CustomsOfficeOfDeparture><referenceNumber>KZ000123</referenceNumber></CustomsOfficeOfDeparture>
  <HolderOfTheTransitProcedure><identificationNumber>KZ123456789012</identificationNumber></HolderOfTheTransitProcedure>
  <Consignment>
    <modeOfTransportAtTheBorder>3</modeOfTransportAtTheBorder>
    <TransportEquipment>
      <sequenceNumber>1</sequenceNumber>
      <containerIdentificationNumber>CSQU3054383</containerIdentificationNumber>
      <numberOfSeals>1</numberOfSeals>
      <Seal><sequenceNumber>1</sequenceNumber><identifier>KZ-SEAL-0042</identifier></Seal>
    </TransportEquipment>
  </Consignment>
</ncts:CC029C>
"""
