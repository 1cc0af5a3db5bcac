"""Our schema definitions of the NCTS phase 5/6 messages ingest maps.

Written from the official CTC XSDs (DG TAXUD, version 60.4.16 as published in
hmrc/transit-movements-validator, conf/v3_0/xsd): for each message, the elements the
XSD makes mandatory down to the ones mapping reads, their types, lengths and the code
lists that matter (mode of transport, flags). Not the whole XSD: goods items, addresses
and documents are not read, so they are not checked here; an operator who wants the
full check points `INGEST_NCTS_XSD_DIR` at the official XSDs (see docs/ingest.md).

The common-domain messages (CD050C, CD118C, CD160C, CD168C) travel between customs
administrations only; their XSDs are not public. Their definitions here follow the
trader-facing types of the same data groups and are marked as modelled.

Errors name the XML element path as the sender wrote it (`TransitOperation/MRN`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from xml.etree.ElementTree import Element

from corridor.errors import InvalidEvent


class Kind(Enum):
    TEXT = "text"
    DATE = "date"  # xs:date, YYYY-MM-DD
    DATE_TIME = "date-time"  # xs:dateTime, YYYY-MM-DDThh:mm:ss (offset optional)
    DATE_OR_DATE_TIME = "date or date-time"
    MRN = "MRN"
    LRN = "LRN"
    OFFICE = "customs office reference number"
    FLAG = "flag"
    PRESENT = "element"  # a group: only its presence is checked


@dataclass(frozen=True, slots=True)
class Rule:
    path: str
    kind: Kind = Kind.TEXT
    required: bool = True
    max_length: int | None = None
    codes: frozenset[str] | None = None


# Types of the XSDs (ctypes.xsd / stypes.xsd).
_MRN = re.compile(r"^([0-1][0-9]|2[0-4])[A-Z]{2}[A-Z0-9]{13}[0-9]$")
_LRN = re.compile(r"^.{1,22}$")
_OFFICE = re.compile(r"^[A-Z]{2}[A-Z0-9]{6}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
# CL218 mode of transport at the border.
MODES_OF_TRANSPORT = frozenset("12345789")

HEADER = (
    Rule("messageSender", max_length=35),
    Rule("messageRecipient", max_length=35),
    Rule("preparationDateAndTime", Kind.DATE_TIME),
    Rule("messageIdentification", max_length=35),
    Rule("messageType", max_length=6),
    Rule("correlationIdentifier", required=False, max_length=35),
)
_HOLDER = Rule("HolderOfTheTransitProcedure", Kind.PRESENT)
_DEPARTURE = Rule("CustomsOfficeOfDeparture/referenceNumber", Kind.OFFICE)
_DESTINATION_ACTUAL = Rule("CustomsOfficeOfDestinationActual/referenceNumber", Kind.OFFICE)
_MRN_RULE = Rule("TransitOperation/MRN", Kind.MRN)
_EQUIPMENT = (
    Rule(
        "Consignment/TransportEquipment/containerIdentificationNumber",
        required=False,
        max_length=17,
    ),
    Rule("Consignment/TransportEquipment/Seal/identifier", required=False, max_length=20),
    Rule("Consignment/modeOfTransportAtTheBorder", required=False, codes=MODES_OF_TRANSPORT),
    Rule("Consignment/DepartureTransportMeans/identificationNumber", required=False, max_length=35),
)
_DECLARATION = (
    Rule("TransitOperation/declarationType", max_length=5),
    Rule("TransitOperation/TIRCarnetNumber", required=False, max_length=12),
    Rule("TransitOperation/security", codes=frozenset("0123")),
    Rule("TransitOperation/reducedDatasetIndicator", Kind.FLAG),
    Rule("TransitOperation/bindingItinerary", Kind.FLAG),
    _DEPARTURE,
    Rule("CustomsOfficeOfDestinationDeclared/referenceNumber", Kind.OFFICE),
    Rule("CustomsOfficeOfTransitDeclared/referenceNumber", Kind.OFFICE, required=False),
    _HOLDER,
    Rule("Guarantee", Kind.PRESENT),
    Rule("Consignment/grossMass"),
    Rule("Consignment/Carrier/identificationNumber", required=False, max_length=17),
    *_EQUIPMENT,
)

MESSAGES: dict[str, tuple[Rule, ...]] = {
    "CC015C": (Rule("TransitOperation/LRN", Kind.LRN), *_DECLARATION),
    "CC013C": (
        Rule("TransitOperation/LRN", Kind.LRN, required=False),
        Rule("TransitOperation/MRN", Kind.MRN, required=False),
        Rule("TransitOperation/amendmentTypeFlag", Kind.FLAG),
        *_DECLARATION,
    ),
    "CC028C": (
        Rule("TransitOperation/LRN", Kind.LRN),
        _MRN_RULE,
        Rule("TransitOperation/declarationAcceptanceDate", Kind.DATE),
        _DEPARTURE,
        _HOLDER,
    ),
    "CC056C": (
        Rule("TransitOperation/LRN", Kind.LRN, required=False),
        Rule("TransitOperation/MRN", Kind.MRN, required=False),
        Rule("TransitOperation/businessRejectionType", max_length=3),
        Rule("TransitOperation/rejectionDateAndTime", Kind.DATE_TIME),
        Rule("TransitOperation/rejectionCode", max_length=2),
        Rule("TransitOperation/rejectionReason", required=False, max_length=512),
        _DEPARTURE,
        _HOLDER,
    ),
    "CC060C": (
        Rule("TransitOperation/LRN", Kind.LRN, required=False),
        Rule("TransitOperation/MRN", Kind.MRN, required=False),
        Rule("TransitOperation/controlNotificationDateAndTime", Kind.DATE_TIME),
        Rule("TransitOperation/notificationType", max_length=1),
        _DEPARTURE,
        _HOLDER,
    ),
    "CC029C": (
        Rule("TransitOperation/LRN", Kind.LRN),
        _MRN_RULE,
        Rule("TransitOperation/declarationType", max_length=5),
        Rule("TransitOperation/TIRCarnetNumber", required=False, max_length=12),
        Rule("TransitOperation/declarationAcceptanceDate", Kind.DATE),
        Rule("TransitOperation/releaseDate", Kind.DATE),
        _DEPARTURE,
        Rule("CustomsOfficeOfDestinationDeclared/referenceNumber", Kind.OFFICE),
        _HOLDER,
        Rule("Guarantee", Kind.PRESENT),
        Rule("Consignment/grossMass"),
        Rule("Consignment/Carrier/identificationNumber", required=False, max_length=17),
        *_EQUIPMENT,
    ),
    "CC051C": (
        _MRN_RULE,
        Rule("TransitOperation/declarationSubmissionDateAndTime", Kind.DATE_TIME),
        Rule("TransitOperation/noReleaseMotivationCode", max_length=2),
        Rule("TransitOperation/noReleaseMotivationText", max_length=512),
        _DEPARTURE,
        _HOLDER,
    ),
    "CC055C": (
        _MRN_RULE,
        Rule("TransitOperation/declarationAcceptanceDate", Kind.DATE),
        _DEPARTURE,
        _HOLDER,
        Rule("GuaranteeReference/GRN", max_length=24),
    ),
    "CC050C": (
        _MRN_RULE,
        _DEPARTURE,
        Rule("CustomsOfficeOfTransitDeclared/referenceNumber", Kind.OFFICE),
        *_EQUIPMENT,
    ),
    "CC160C": (
        _MRN_RULE,
        _DEPARTURE,
        Rule("CustomsOfficeOfExitForTransitDeclared/referenceNumber", Kind.OFFICE),
        *_EQUIPMENT,
    ),
    "CC118C": (
        _MRN_RULE,
        Rule("TransitOperation/passageDate", Kind.DATE_OR_DATE_TIME),
        Rule("CustomsOfficeOfTransitActual/referenceNumber", Kind.OFFICE),
        Rule("CustomsOfficeOfDeparture/referenceNumber", Kind.OFFICE, required=False),
    ),
    "CC168C": (
        _MRN_RULE,
        Rule("TransitOperation/passageDate", Kind.DATE_OR_DATE_TIME),
        Rule("CustomsOfficeOfExitForTransitActual/referenceNumber", Kind.OFFICE),
        Rule("CustomsOfficeOfDeparture/referenceNumber", Kind.OFFICE, required=False),
    ),
    "CC182C": (
        _MRN_RULE,
        Rule("TransitOperation/incidentNotificationDateAndTime", Kind.DATE_TIME),
        _DEPARTURE,
        Rule("CustomsOfficeOfIncidentRegistration/referenceNumber", Kind.OFFICE),
        Rule("Consignment/Incident/code", max_length=1),
        Rule("Consignment/Incident/text", max_length=512),
        *_EQUIPMENT,
    ),
    "CC007C": (
        _MRN_RULE,
        Rule("TransitOperation/arrivalNotificationDateAndTime", Kind.DATE_TIME),
        Rule("TransitOperation/simplifiedProcedure", Kind.FLAG),
        _DESTINATION_ACTUAL,
        Rule("TraderAtDestination", Kind.PRESENT),
        Rule("Consignment/LocationOfGoods", Kind.PRESENT),
    ),
    "CC043C": (
        _MRN_RULE,
        Rule("TransitOperation/security", codes=frozenset("0123")),
        Rule("TransitOperation/reducedDatasetIndicator", Kind.FLAG),
        _DESTINATION_ACTUAL,
        Rule("TraderAtDestination", Kind.PRESENT),
        *_EQUIPMENT,
    ),
    "CC044C": (
        _MRN_RULE,
        _DESTINATION_ACTUAL,
        Rule("TraderAtDestination", Kind.PRESENT),
        Rule("UnloadingRemark/conform", Kind.FLAG),
        Rule("UnloadingRemark/unloadingCompletion", Kind.FLAG),
        Rule("UnloadingRemark/unloadingDate", Kind.DATE),
        Rule("UnloadingRemark/stateOfSeals", Kind.FLAG, required=False),
        Rule("UnloadingRemark/unloadingRemark", required=False, max_length=512),
        *_EQUIPMENT,
    ),
    "CC025C": (
        _MRN_RULE,
        Rule("TransitOperation/releaseDate", Kind.DATE),
        Rule("TransitOperation/releaseIndicator", max_length=1),
        _DESTINATION_ACTUAL,
        Rule("TraderAtDestination", Kind.PRESENT),
    ),
    "CC045C": (
        _MRN_RULE,
        Rule("TransitOperation/writeOffDate", Kind.DATE),
        _DEPARTURE,
        _HOLDER,
    ),
    "CC009C": (
        Rule("TransitOperation/LRN", Kind.LRN, required=False),
        Rule("TransitOperation/MRN", Kind.MRN, required=False),
        Rule("Invalidation/decisionDateAndTime", Kind.DATE_TIME, required=False),
        Rule("Invalidation/decision", Kind.FLAG, required=False),
        Rule("Invalidation/initiatedByCustoms", Kind.FLAG),
        Rule("Invalidation/justification", required=False, max_length=512),
        _DEPARTURE,
        _HOLDER,
    ),
}


def validate(root: Element, message_type: str) -> None:
    """Refuse the message at the first element breaking its definition, naming it."""
    rules = (*HEADER, *MESSAGES[_canonical(message_type)])
    for rule in rules:
        found = root.findall(rule.path)
        if not found and rule.required:
            raise InvalidEvent(rule.path, f"required by {message_type}: the element is missing")
        if rule.kind is Kind.PRESENT:
            continue
        for element in found:
            _check(rule, (element.text or "").strip())
    declared = (root.findtext("messageType") or "").strip()
    if declared != message_type:
        raise InvalidEvent(
            "messageType", f"{declared!r} inside a {message_type} root: they must agree"
        )


def _check(rule: Rule, text: str) -> None:
    def refuse(why: str) -> None:
        raise InvalidEvent(rule.path, f"{text!r} {why}")

    if not text:
        refuse("is empty")
    if rule.max_length is not None and len(text) > rule.max_length:
        refuse(f"is longer than {rule.max_length} characters")
    if rule.codes is not None and text not in rule.codes:
        refuse(f"is not one of {', '.join(sorted(rule.codes))}")
    kind = rule.kind
    if kind is Kind.MRN and not _MRN.match(text):
        refuse("is not an MRN (18 characters, year, country, 13 characters, check digit)")
    if kind is Kind.LRN and not _LRN.match(text):
        refuse("is not an LRN (at most 22 characters)")
    if kind is Kind.OFFICE and not _OFFICE.match(text):
        refuse("is not a customs office reference number (country + 6 characters)")
    if kind is Kind.FLAG and text not in ("0", "1"):
        refuse("is not a flag (0 or 1)")
    if kind is Kind.DATE or (kind is Kind.DATE_OR_DATE_TIME and _DATE.match(text)):
        if not _DATE.match(text) or not _is_date(text):
            refuse("is not a date (YYYY-MM-DD)")
    elif kind in (Kind.DATE_TIME, Kind.DATE_OR_DATE_TIME) and (
        not _DATE_TIME.match(text) or not _is_date_time(text)
    ):
        refuse("is not a date-time (YYYY-MM-DDThh:mm:ss)")


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _is_date_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def _canonical(message_type: str) -> str:
    return "CC" + message_type[2:] if message_type.startswith("CD") else message_type
