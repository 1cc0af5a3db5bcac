"""NCTS phase 5/6 XML messages (namespace http://ncts.dgtaxud.ec) mapped to transit events.

Parsed with defusedxml: a DTD, entity declaration or external reference is refused
before anything is expanded, and the body size is capped. NCTS date-times carry no
offset: they are read in the time zone of the location the customs office reports for.
The event id is a uuid5 over (message type, MRN or LRN, customs office), so the same
fact re-sent, even under a new messageIdentification, maps to the same event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from corridor.errors import InvalidEvent, InvalidIdentifier
from corridor.events import (
    BorderDirection,
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransportMode,
)
from corridor.identifiers import validate_container_number
from corridor.reference import CorridorReference
from services.ingest.adapters import ncts_schema
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
from services.ingest.adapters.ncts_xsd import OfficialXsds

NAMESPACE = "http://ncts.dgtaxud.ec"
MRN_ELEMENT = "TransitOperation/MRN"
DEFAULT_MAX_BYTES = 1_000_000
_MODES = {"1": TransportMode.SEA, "2": TransportMode.RAIL, "3": TransportMode.ROAD}
_ROAD_VEHICLE_ID_TYPES = {"30", "31"}  # registration number of the road vehicle / trailer


@dataclass(frozen=True, slots=True)
class _Rule:
    event_type: EventType
    offices: tuple[str, ...]  # the customs office element(s), first present wins
    time: str = "preparationDateAndTime"  # the element stating when it happened
    each_office: bool = False  # one event per office named (anticipated records)
    direction: BorderDirection | None = None
    per_message: bool = False  # may happen more than once: the message id is in the event id


_DEPARTURE = ("CustomsOfficeOfDeparture",)
_DESTINATION = ("CustomsOfficeOfDestinationActual",)
RULES: dict[str, _Rule] = {
    "CC015C": _Rule(EventType.DECLARATION_SUBMITTED, _DEPARTURE),
    "CC013C": _Rule(EventType.DECLARATION_SUBMITTED, _DEPARTURE, per_message=True),
    "CC028C": _Rule(
        EventType.DECLARATION_ACCEPTED, _DEPARTURE, "TransitOperation/declarationAcceptanceDate"
    ),
    "CC056C": _Rule(
        EventType.DECLARATION_REJECTED,
        _DEPARTURE,
        "TransitOperation/rejectionDateAndTime",
        per_message=True,
    ),
    "CC029C": _Rule(EventType.OPERATION_STARTED, _DEPARTURE, "TransitOperation/releaseDate"),
    "CC051C": _Rule(EventType.DECLARATION_REJECTED, _DEPARTURE, per_message=True),
    "CC055C": _Rule(EventType.DECLARATION_REJECTED, _DEPARTURE, per_message=True),
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
        "TransitOperation/passageDate",
        direction=BorderDirection.INBOUND,
    ),
    "CC168C": _Rule(
        EventType.OPERATION_TERMINATED,
        ("CustomsOfficeOfExitForTransitActual",),
        "TransitOperation/passageDate",
        direction=BorderDirection.OUTBOUND,
    ),
    "CC182C": _Rule(
        EventType.INCIDENT_REPORTED,
        ("CustomsOfficeOfIncidentRegistration",),
        "TransitOperation/incidentNotificationDateAndTime",
        per_message=True,
    ),
    "CC007C": _Rule(
        EventType.OPERATION_TERMINATED,
        _DESTINATION,
        "TransitOperation/arrivalNotificationDateAndTime",
    ),
    "CC043C": _Rule(EventType.SEALS_CHECKED, _DESTINATION),
    "CC044C": _Rule(EventType.SEALS_CHECKED, _DESTINATION, "UnloadingRemark/unloadingDate"),
    "CC025C": _Rule(EventType.GOODS_RELEASED, _DESTINATION, "TransitOperation/releaseDate"),
    "CC045C": _Rule(EventType.OPERATION_DISCHARGED, _DEPARTURE, "TransitOperation/writeOffDate"),
    "CC009C": _Rule(
        EventType.CONSIGNMENT_CANCELLED, _DEPARTURE, "Invalidation/decisionDateAndTime"
    ),
}
# Well-formed and valid, but no fact of the journey of its own (docs/event-mapping.md).
IGNORED = {
    "CC060C": "a control decision notification: the inspection itself is the gate's "
    "inspection.started / inspection.completed",
}
_CONTAINER = "Consignment/TransportEquipment/containerIdentificationNumber"


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


def message_types() -> frozenset[str]:
    """Every root element name ingest reads, in both CC and CD spellings."""
    return frozenset(
        spelling for name in (*RULES, *IGNORED) for spelling in (name, "CD" + name[2:])
    )


def to_message(
    body: bytes,
    reference: CorridorReference,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    official: OfficialXsds | None = None,
) -> MappedMessage:
    root = parse(body, max_bytes=max_bytes)
    message_type = root.tag.rpartition("}")[2]
    canonical = "CC" + message_type[2:] if message_type.startswith("CD") else message_type
    if canonical not in RULES and canonical not in IGNORED:
        known = sorted({*RULES, *IGNORED})
        raise InvalidEvent(
            "messageType",
            f"{message_type} is not a message ingest maps (one of {', '.join(known)})",
        )
    ncts_schema.validate(root, message_type)
    if official is not None:
        official.validate(root, message_type)
    mrn, lrn = _text(root, "TransitOperation/MRN"), _text(root, "TransitOperation/LRN")
    if mrn is None and lrn is None:
        raise InvalidEvent(
            "TransitOperation/MRN", "an MRN (or, before allocation, an LRN) is required"
        )
    subject = _subject(root, mrn, lrn)
    if canonical in IGNORED:
        return MappedMessage(subject, (), ignored=f"{message_type} is {IGNORED[canonical]}")
    if canonical == "CC009C" and _text(root, "Invalidation/decision") != "1":
        return MappedMessage(subject, (), ignored="the cancellation was not granted")
    containers, warnings = _containers(root)
    try:
        drafts = tuple(
            _drafts(root, message_type, RULES[canonical], reference, mrn, lrn, containers, warnings)
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise InvalidEvent(".".join(str(p) for p in first["loc"]), first["msg"]) from None
    return MappedMessage(subject, drafts, warnings=tuple(warnings))


def _containers(root: Element) -> tuple[tuple[str, ...], list[tuple[str, str]]]:
    """Container numbers passing ISO 6346; the others are warnings, not refusals:
    the element is free text of up to 17 characters in the XSD."""
    kept: list[str] = []
    warnings: list[tuple[str, str]] = []
    for text in _texts(root, _CONTAINER):
        try:
            kept.append(validate_container_number(text, field=_CONTAINER))
        except InvalidIdentifier as exc:
            warnings.append((_CONTAINER, f"{exc.rule}; kept out of the references"))
    return tuple(kept), warnings


def _drafts(
    root: Element,
    message_type: str,
    rule: _Rule,
    reference: CorridorReference,
    mrn: str | None,
    lrn: str | None,
    containers: tuple[str, ...],
    warnings: list[tuple[str, str]],
) -> list[EventDraft]:
    offices = _offices(root, rule)
    message_id = _text(root, "messageIdentification")
    source = Source(system=SourceSystem.NCTS, message_type=message_type, message_id=message_id)
    references = References(
        mrn=mrn,
        tir_carnet=_text(root, "TransitOperation/TIRCarnetNumber"),
        container_numbers=containers,
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
        location = location_of_office(reference, office, f"{element}/referenceNumber")
        zone = reference.location(location).timezone
        identity: tuple[str, ...] = (message_type[2:], mrn or lrn or "", office)
        if rule.per_message:
            identity += (message_id or "",)
        drafts.append(
            EventDraft(
                event_id=event_id(SourceSystem.NCTS, *identity),
                event_type=rule.event_type,
                occurred_at=_occurred_at(root, rule.time, zone),
                location=location,
                source=source,
                references=references,
                attributes=EventAttributes(
                    customs_office=office,
                    direction=rule.direction,
                    mode=_MODES.get(_text(root, "Consignment/modeOfTransportAtTheBorder") or ""),
                    seals=seals or None,
                    reason=_reason(root),
                    warnings=tuple(f"{path}: {why}" for path, why in warnings) or None,
                ),
            )
        )
    return drafts


def _occurred_at(root: Element, path: str, zone: str) -> datetime:
    """The business date-time the standard gives for the fact, in the office's zone.

    A business date without a time (releaseDate, writeOffDate, ...) takes the time of
    day of preparationDateAndTime when the message was prepared that same day (the
    fact cannot be later than its message), else the start of that day.
    """
    prepared = parse_local_time(
        _text(root, "preparationDateAndTime") or "", zone, "preparationDateAndTime"
    )
    text = _text(root, path) or ""
    if "T" in text:
        return parse_local_time(text, zone, path)
    day = date.fromisoformat(text)
    if prepared.astimezone(ZoneInfo(zone)).date() == day:
        return prepared
    return datetime.combine(day, time(), ZoneInfo(zone))


def _offices(root: Element, rule: _Rule) -> list[tuple[str, str]]:
    for element in rule.offices:
        found = [(element, office) for office in _texts(root, f"{element}/referenceNumber")]
        if found:
            return found if rule.each_office else found[:1]
    raise InvalidEvent(f"{rule.offices[0]}/referenceNumber", "a customs office is required")


def _subject(root: Element, mrn: str | None, lrn: str | None) -> Subject:
    lookups = [(ReferenceKind.MRN, mrn)] if mrn else []
    lookups += [(ReferenceKind.LRN, lrn)] if lrn else []
    carrier = _text(root, "Consignment/Carrier/identificationNumber") or _text(
        root, "HolderOfTheTransitProcedure/identificationNumber"
    )
    return Subject(
        lookups=tuple(lookups),
        # The LRN first: every departure message carries it, so a declaration and its
        # acceptance are one consignment whichever arrives first (docs/ingest.md).
        consignment_fallback=lrn or mrn,
        consignment_field="TransitOperation/MRN",
        carrier=carrier,
        carrier_field="Consignment/Carrier/identificationNumber",
    )


def _reason(root: Element) -> str | None:
    for path in (
        "TransitOperation/rejectionReason",
        "TransitOperation/rejectionCode",
        "FunctionalError/errorCode",
        "Invalidation/justification",
        "TransitOperation/noReleaseMotivationText",
        "Consignment/Incident/text",
        "UnloadingRemark/unloadingRemark",
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
