"""NCTS, eTIR and e-Permit messages mapped to transit events, through the HTTP API."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from corridor.events import CARRIER_NOT_NAMED, EventType, TransitEvent
from corridor.timeline import build_timeline
from services.common.reference_data import load_corridor_reference
from services.ingest import create_app
from services.ingest.adapters import ncts
from services.ingest.adapters.base import MalformedMessage, ReferenceKind, UnsafeXml
from services.ingest.directory import resolve
from services.ingest.in_memory import InMemoryDirectory, InMemoryKeyStore, RecordingPublisher
from tests.unit.test_ingest_api import NOW, assert_problem, settings

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
MRN = "24GE000201T0000420"
LRN = "GETRD-2026-000042"
REFERENCE = load_corridor_reference()
ALL_LOCATIONS = [location.code for location in REFERENCE.locations]


class Client:
    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client, self.key = client, key

    async def post(
        self, path: str, body: bytes | str, key: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return await self.client.post(path, content=body, headers=headers, **kwargs)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def keys() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def directory() -> InMemoryDirectory:
    return InMemoryDirectory()


@pytest.fixture
async def api(
    publisher: RecordingPublisher, keys: InMemoryKeyStore, directory: InMemoryDirectory
) -> AsyncIterator[Client]:
    app = create_app(
        settings(),
        publisher=publisher,
        key_store=keys,
        reference=REFERENCE,
        directory=directory,
        now=lambda: NOW,
    )
    key = keys.add("customs system", locations=ALL_LOCATIONS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as client:
        yield Client(client, key)


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def local(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


# --- NCTS -----------------------------------------------------------------------------------

NCTS_CASES = [
    (
        "ncts_cc015c_declaration.xml",
        EventType.DECLARATION_SUBMITTED,
        "GE-POTI",
        "2026-11-18T10:05:00",
        "GETRD-2026-000042",
    ),
    (
        "ncts_cc028c_mrn_allocated.xml",
        EventType.DECLARATION_ACCEPTED,
        "GE-POTI",
        "2026-11-18T10:20:00",
        LRN,  # it names the LRN too: filed there, not under the MRN placeholder
    ),
    (
        "ncts_cc056c_rejection.xml",
        EventType.DECLARATION_REJECTED,
        "GE-POTI",
        "2026-11-18T10:11:30",
        "GETRD-2026-000041",
    ),
    (
        "ncts_cc029c_release_for_transit.xml",
        EventType.OPERATION_STARTED,
        "GE-POTI",
        "2026-11-18T14:30:00",
        LRN,  # it names the LRN too: filed there, not under the MRN placeholder
    ),
    (
        "ncts_cd050c_anticipated_transit.xml",
        EventType.BORDER_PRENOTIFIED,
        "TR-SARP",
        "2026-11-18T14:31:30",
        MRN,
    ),
    (
        "ncts_cc160c_anticipated_exit.xml",
        EventType.BORDER_PRENOTIFIED,
        "GE-SARPI",
        "2026-11-18T14:31:00",
        MRN,
    ),
    (
        "ncts_cd168c_left_security_area.xml",
        EventType.OPERATION_TERMINATED,
        "GE-SARPI",
        "2026-11-19T07:58:00",
        MRN,
    ),
    (
        "ncts_cd118c_crossing_frontier.xml",
        EventType.OPERATION_STARTED,
        "TR-SARP",
        "2026-11-19T09:32:00",
        MRN,
    ),
    (
        "ncts_cc007c_arrival_notification.xml",
        EventType.OPERATION_TERMINATED,
        "TR-KAPIKULE",
        "2026-11-21T16:05:00",
        MRN,
    ),
    (
        "ncts_cc025c_goods_release.xml",
        EventType.GOODS_RELEASED,
        "TR-KAPIKULE",
        "2026-11-21T18:40:00",
        MRN,
    ),
    (
        "ncts_cc045c_write_off.xml",
        EventType.OPERATION_DISCHARGED,
        "GE-POTI",
        "2026-11-22T09:00:00",
        MRN,
    ),
    (
        "ncts_cc009c_cancellation.xml",
        EventType.CONSIGNMENT_CANCELLED,
        "GE-POTI",
        "2026-11-18T11:58:00",
        "24GE000201T0000992",
    ),
    (
        "ncts_cc013c_amendment.xml",
        EventType.DECLARATION_SUBMITTED,
        "GE-POTI",
        "2026-11-18T12:40:00",
        LRN,  # it names the LRN too: filed there, not under the MRN placeholder
    ),
    (
        "ncts_cc051c_no_release.xml",
        EventType.DECLARATION_REJECTED,
        "GE-POTI",
        "2026-11-18T13:10:00",
        "24GE000201T0000510",
    ),
    (
        "ncts_cc055c_guarantee_not_valid.xml",
        EventType.DECLARATION_REJECTED,
        "GE-POTI",
        "2026-11-18T12:00:00",
        "24GE000201T0000553",
    ),
    (
        "ncts_cc182c_incident.xml",
        EventType.INCIDENT_REPORTED,
        "TR-SARP",
        "2026-11-20T14:55:00",
        MRN,
    ),
    (
        "ncts_cc043c_unloading_permission.xml",
        EventType.SEALS_CHECKED,
        "TR-KAPIKULE",
        "2026-11-21T17:00:00",
        MRN,
    ),
    (
        "ncts_cc044c_unloading_remarks.xml",
        EventType.SEALS_CHECKED,
        "TR-KAPIKULE",
        "2026-11-21T18:05:00",
        MRN,
    ),
]


@pytest.mark.parametrize(
    ("name", "event_type", "location", "local_time", "consignment"),
    NCTS_CASES,
    ids=[c[0].split("_")[1] for c in NCTS_CASES],
)
async def test_ncts_samples_map_to_events(
    api: Client,
    publisher: RecordingPublisher,
    directory: InMemoryDirectory,
    name: str,
    event_type: EventType,
    location: str,
    local_time: str,
    consignment: str,
) -> None:
    # A consignment filed under the MRN: a placeholder opened by an MRN-only message.
    directory.add(ReferenceKind.MRN, MRN, MRN, "GE0123456789")
    body = sample(name)
    response = await api.post(
        "/v1/messages/ncts", body, headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["warnings"] == []
    [published] = publisher.events
    zone = REFERENCE.location(location).timezone
    assert published.event_type is event_type
    assert published.location == location
    assert published.occurred_at == local(local_time, zone)
    assert published.consignment_id == consignment
    # Only a message naming a holder or carrier claims the consignment for one.
    names_carrier = b"GE0123456789</identificationNumber>" in body
    assert published.carrier_id == ("GE0123456789" if names_carrier else CARRIER_NOT_NAMED)
    assert published.source.system.value == "ncts"
    assert REFERENCE.location_of_office(published.attributes.customs_office or "") == location


def test_release_for_transit_carries_references_seals_and_mode() -> None:
    message = ncts.to_message(sample("ncts_cc029c_release_for_transit.xml"), REFERENCE)
    [draft] = message.drafts
    assert draft.references.mrn == MRN
    assert draft.references.tir_carnet == "XH12345678"
    assert draft.references.container_numbers == ("CSQU3054383",)
    assert draft.references.vehicle_plates == ("GE-123-AB",)
    assert draft.attributes.seals == ("GE-TIR-778812", "GE-TIR-778813")
    assert draft.attributes.mode is not None
    assert draft.attributes.mode.value == "road"
    assert message.subject.lookups == (
        (ReferenceKind.MRN, MRN),
        (ReferenceKind.LRN, "GETRD-2026-000042"),
    )


async def test_the_directory_supplies_the_consignment_the_message_names_the_carrier(
    api: Client, publisher: RecordingPublisher, directory: InMemoryDirectory
) -> None:
    directory.add(ReferenceKind.MRN, MRN, "MC-2026-000777", "GE0123456789")
    await api.post("/v1/messages/ncts", sample("ncts_cc029c_release_for_transit.xml"))
    [event] = publisher.events
    assert (event.consignment_id, event.carrier_id) == ("MC-2026-000777", "GE0123456789")


async def test_a_message_naming_another_carrier_for_a_known_consignment_is_409(
    api: Client, publisher: RecordingPublisher, directory: InMemoryDirectory
) -> None:
    directory.add(ReferenceKind.MRN, MRN, "MC-2026-000777", "carrier-ge-07")
    response = await api.post("/v1/messages/ncts", sample("ncts_cc029c_release_for_transit.xml"))
    assert_problem(response, 409, "Consignment/Carrier/identificationNumber")
    assert "carrier-ge-07" not in response.text
    assert publisher.events == []


async def test_a_message_naming_no_carrier_for_a_known_consignment_is_accepted(
    api: Client, publisher: RecordingPublisher, directory: InMemoryDirectory
) -> None:
    directory.add(ReferenceKind.MRN, MRN, "MC-2026-000777", "carrier-ge-07")
    response = await api.post("/v1/messages/ncts", sample("ncts_cc007c_arrival_notification.xml"))
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert (event.consignment_id, event.carrier_id) == ("MC-2026-000777", CARRIER_NOT_NAMED)


async def test_a_message_naming_no_carrier_is_accepted_for_an_unknown_consignment(
    api: Client, publisher: RecordingPublisher
) -> None:
    response = await api.post("/v1/messages/ncts", sample("ncts_cc007c_arrival_notification.xml"))
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert (event.consignment_id, event.carrier_id) == (MRN, CARRIER_NOT_NAMED)


async def test_a_failing_container_check_digit_is_a_warning_on_the_event(
    api: Client, publisher: RecordingPublisher
) -> None:
    body = sample("ncts_cc029c_release_for_transit.xml").replace(b"CSQU3054383", b"CSQU3054384")
    response = await api.post("/v1/messages/ncts", body)
    assert response.status_code == 202, response.text
    [warning] = response.json()["results"][0]["warnings"]
    assert warning["field"] == "Consignment/TransportEquipment/containerIdentificationNumber"
    assert "check digit" in warning["rule"]
    [event] = publisher.events
    assert event.references.container_numbers == ()
    assert event.attributes.warnings is not None
    assert "CSQU3054384" in event.attributes.warnings[0]


async def test_a_business_date_before_the_message_day_is_the_start_of_that_day(
    api: Client, publisher: RecordingPublisher
) -> None:
    body = sample("ncts_cc045c_write_off.xml").replace(
        b"<writeOffDate>2026-11-22<", b"<writeOffDate>2026-11-21<"
    )
    assert (await api.post("/v1/messages/ncts", body)).status_code == 202
    [event] = publisher.events
    assert event.occurred_at == local("2026-11-21T00:00:00", "Asia/Tbilisi")


async def test_a_control_decision_notification_is_answered_200_and_ignored(
    api: Client, publisher: RecordingPublisher
) -> None:
    response = await api.post("/v1/messages/ncts", sample("ncts_cc060c_control_decision.xml"))
    assert response.status_code == 200, response.text
    assert "CC060C" in response.json()["ignored"]
    assert publisher.events == []


async def test_a_resent_ncts_message_is_a_duplicate(
    api: Client, publisher: RecordingPublisher
) -> None:
    body = sample("ncts_cc029c_release_for_transit.xml")
    first = await api.post("/v1/messages/ncts", body)
    resent = await api.post("/v1/messages/ncts", body)
    assert resent.status_code == 200
    assert resent.json()["results"][0]["status"] == "duplicate"
    assert len(publisher.events) == 1
    # Retransmitted under a new messageIdentification: the same fact, so the same event id;
    # the content differs (source.message_id), so it is flagged for the tracker to judge.
    renumbered = await api.post("/v1/messages/ncts", body.replace(b"GE2026111800029", b"GE-R1"))
    outcome = renumbered.json()["results"][0]
    assert outcome["event_id"] == first.json()["results"][0]["event_id"]
    assert outcome["conflicts_with_earlier"] is True


async def test_a_wrong_mrn_check_digit_is_accepted_with_a_warning(
    api: Client, publisher: RecordingPublisher
) -> None:
    body = sample("ncts_cc029c_release_for_transit.xml").replace(
        MRN.encode(), b"24GE000201T0000425"
    )
    response = await api.post("/v1/messages/ncts", body)
    assert response.status_code == 202
    [warning] = response.json()["results"][0]["warnings"]
    assert warning["field"] == "TransitOperation/MRN"
    assert "check digit" in warning["rule"]
    assert len(publisher.events) == 1


async def test_a_refused_cancellation_publishes_nothing(
    api: Client, publisher: RecordingPublisher
) -> None:
    body = sample("ncts_cc009c_cancellation.xml").replace(b"<decision>1<", b"<decision>0<")
    response = await api.post("/v1/messages/ncts", body)
    assert response.status_code == 200
    assert response.json()["results"] == []
    assert publisher.events == []


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (sample("xml_external_entity.xml"), 400, "body"),
        (sample("xml_billion_laughs.xml"), 400, "body"),
        (b"<ncts:CC007C xmlns:ncts='http://ncts.dgtaxud.ec'><unclosed></ncts:CC007C>", 400, "body"),
        (b"<CC007C><TransitOperation/></CC007C>", 400, "body"),
        (b"", 400, "body"),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(b"CC029C", b"CC004C"),
            422,
            "messageType",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(b"GE000201", b"XX999999"),
            422,
            "CustomsOfficeOfDeparture/referenceNumber",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(MRN.encode(), b"24GE0002"),
            422,
            "TransitOperation/MRN",
        ),
        (
            re.sub(
                rb"<HolderOfTheTransitProcedure>.*?</HolderOfTheTransitProcedure>",
                b"",
                sample("ncts_cc029c_release_for_transit.xml"),
                flags=re.S,
            ),
            422,
            "HolderOfTheTransitProcedure",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(
                b"<messageType>CC029C</messageType>", b"<messageType>CC007C</messageType>"
            ),
            422,
            "messageType",
        ),
        (
            re.sub(
                rb"<messageSender>.*?</messageSender>",
                b"",
                sample("ncts_cc029c_release_for_transit.xml"),
            ),
            422,
            "messageSender",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(
                b"<releaseDate>2026-11-18<", b"<releaseDate>2014-13-45<"
            ),
            422,
            "TransitOperation/releaseDate",
        ),
        (
            sample("ncts_cc007c_arrival_notification.xml").replace(
                b"2026-11-21T16:05:00", b"2026-11-31T16:05:00"
            ),
            422,
            "TransitOperation/arrivalNotificationDateAndTime",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(
                b"http://ncts.dgtaxud.ec", b"http://ncts.dgtaxud.ec/v5"
            ),
            400,
            "body",
        ),
        (
            sample("ncts_cd118c_crossing_frontier.xml").replace(
                b"<passageDate>2026-11-19T09:32:00</passageDate>", b""
            ),
            422,
            "TransitOperation/passageDate",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(
                b"<modeOfTransportAtTheBorder>3<", b"<modeOfTransportAtTheBorder>6<"
            ),
            422,
            "Consignment/modeOfTransportAtTheBorder",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(
                b"2026-11-18T14:30:00", b"yesterday"
            ),
            422,
            "preparationDateAndTime",
        ),
    ],
    ids=[
        "external-entity",
        "billion-laughs",
        "malformed",
        "not-ncts",
        "empty",
        "unmapped-type",
        "unknown-office",
        "bad-mrn",
        "missing-holder",
        "root-and-messageType-disagree",
        "missing-messageSender",
        "impossible-date",
        "impossible-date-time",
        "wrong-namespace",
        "missing-passageDate",
        "unknown-mode-code",
        "bad-time",
    ],
)
async def test_bad_ncts_messages_are_problems(
    api: Client, publisher: RecordingPublisher, body: bytes, status: int, field: str
) -> None:
    assert_problem(await api.post("/v1/messages/ncts", body), status, field)
    assert publisher.events == []


def test_entities_are_refused_before_expansion() -> None:
    with pytest.raises(UnsafeXml):
        ncts.parse(sample("xml_billion_laughs.xml"))
    with pytest.raises(UnsafeXml):
        ncts.parse(sample("xml_external_entity.xml"))


def test_oversize_xml_is_refused_by_the_adapter() -> None:
    with pytest.raises(MalformedMessage, match="at most 2048 bytes"):
        ncts.parse(sample("ncts_cc015c_declaration.xml"), max_bytes=2048)


async def test_ncts_for_a_location_outside_the_key_is_403(
    api: Client, keys: InMemoryKeyStore, publisher: RecordingPublisher
) -> None:
    kz_only = keys.add("Nur Zholy", locations=["KZ-NUR-ZHOLY"])
    response = await api.post("/v1/messages/ncts", sample("ncts_cc045c_write_off.xml"), key=kz_only)
    assert_problem(response, 403)
    assert publisher.events == []


# --- eTIR ---------------------------------------------------------------------------------

ETIR_CASES = [
    ("etir_e9_advance_data.json", EventType.DECLARATION_SUBMITTED, "KZ-NUR-ZHOLY"),
    ("etir_i15_border_prenotification.json", EventType.BORDER_PRENOTIFIED, "KZ-NUR-ZHOLY"),
    ("etir_i9_start.json", EventType.OPERATION_STARTED, "KZ-NUR-ZHOLY"),
    ("etir_i11_termination.json", EventType.OPERATION_TERMINATED, "KZ-KURYK"),
    ("etir_i13_discharge.json", EventType.OPERATION_DISCHARGED, "KZ-KURYK"),
    ("etir_i7_record_declaration.json", EventType.DECLARATION_ACCEPTED, "KZ-NUR-ZHOLY"),
    ("etir_i17_refusal_to_start.json", EventType.DECLARATION_REJECTED, "KZ-NUR-ZHOLY"),
    ("etir_e11_amendment.json", EventType.DECLARATION_SUBMITTED, "KZ-NUR-ZHOLY"),
    ("etir_e3_guarantee_cancellation.json", EventType.CONSIGNMENT_CANCELLED, "KZ-NUR-ZHOLY"),
]


@pytest.mark.parametrize(
    ("name", "event_type", "location"), ETIR_CASES, ids=[c[0].split("_")[1] for c in ETIR_CASES]
)
async def test_etir_samples_map_to_events(
    api: Client, publisher: RecordingPublisher, name: str, event_type: EventType, location: str
) -> None:
    response = await api.post("/v1/messages/etir", sample(name))
    assert response.status_code == 202, response.text
    [event] = publisher.events
    message = json.loads(sample(name))
    assert (event.event_type, event.location) == (event_type, location)
    assert event.occurred_at == datetime.fromisoformat(message["occurredAt"])
    assert (event.consignment_id, event.carrier_id) == ("XH12345678", "KAZ-001-1234567")
    assert event.references.tir_carnet == "XH12345678"
    assert event.source.message_id == message["messageId"]


def etir(**changes: Any) -> str:
    return json.dumps(json.loads(sample("etir_i9_start.json")) | changes)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (etir(occurredAt="2026-11-20T06:40:00"), 422, "occurredAt"),
        (etir(occurredAt="2027-11-20T06:40:00+05:00"), 422, "occurred_at"),
        (etir(occurredAt="0001-01-01T00:00:00+01:00"), 422, "occurredAt"),
        (etir(occurredAt="9999-12-31T23:30:00-01:00"), 422, "occurredAt"),
        (etir(occurredAt=1_763_600_000), 422, "occurredAt"),
        (etir(messageType="I99"), 422, "messageType"),
        (etir(tirCarnet="AB1"), 422, "tirCarnet"),
        (etir(holderId="KAZ-001"), 422, "holderId"),
        (etir(customsOffice="ZZ000000"), 422, "customsOffice"),
        (etir(containerNumbers=["CSQU3054384"]), 422, "references.container_numbers[0]"),
        (etir(seals="KZ-SEAL-1"), 422, "seals"),
        ('{"messageType": "I9",', 400, "body"),
    ],
    ids=[
        "naive-time",
        "far-future",
        "year-1-overflows-utc",
        "year-9999-overflows-utc",
        "epoch-number",
        "unknown-type",
        "bad-carnet",
        "bad-holder",
        "unknown-office",
        "bad-container",
        "wrong-type",
        "malformed",
    ],
)
async def test_bad_etir_messages_are_problems(
    api: Client, publisher: RecordingPublisher, body: str, status: int, field: str
) -> None:
    assert_problem(await api.post("/v1/messages/etir", body), status, field)
    assert publisher.events == []


# --- e-Permit -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["epermit_permit_created.json", "epermit_permit_created_camelcase.json"]
)
async def test_permit_created_maps_to_permit_issued(
    api: Client, publisher: RecordingPublisher, name: str
) -> None:
    response = await api.post(
        "/v1/messages/epermit", sample(name), params={"location": "KZ-NUR-ZHOLY"}
    )
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert event.event_type is EventType.PERMIT_ISSUED
    assert (event.consignment_id, event.carrier_id) == ("AZ-KZ-2026-1-1042", "KZ-TRANSCASPIAN-01")
    assert event.references.vehicle_plates == ("123ABC02",)
    assert event.attributes.permit_expires_at == datetime(
        2027, 2, 1, tzinfo=ZoneInfo("Asia/Almaty")
    )
    assert event.occurred_at.timestamp() == 1793001600


async def test_a_permit_without_plate_or_serial_and_a_long_country_code_is_issued(
    api: Client, publisher: RecordingPublisher
) -> None:
    document = json.loads(sample("epermit_permit_created.json"))
    del document["plate_number"]
    document["permit_id"] = "AZE-KAZ-2026-1-1042"
    response = await api.post(
        "/v1/messages/epermit", json.dumps(document), params={"location": "AZ-ALAT"}
    )
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert (event.references.permit_id, event.references.vehicle_plates) == (
        "AZE-KAZ-2026-1-1042",
        (),
    )


async def test_permit_used_takes_the_keys_only_location_and_the_directory(
    api: Client,
    keys: InMemoryKeyStore,
    directory: InMemoryDirectory,
    publisher: RecordingPublisher,
) -> None:
    alat = keys.add("Alat port", locations=["AZ-ALAT"])
    directory.add(ReferenceKind.PERMIT_ID, "AZ-KZ-2026-1-1042", "MC-2026-000123", "carrier-kz-01")
    response = await api.post("/v1/messages/epermit", sample("epermit_permit_used.json"), key=alat)
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert (event.event_type, event.location) == (EventType.PERMIT_USED, "AZ-ALAT")
    assert event.attributes.permit_activity is not None
    assert event.attributes.permit_activity.value == "ENTRANCE"
    assert event.attributes.direction is not None
    assert event.attributes.direction.value == "inbound"
    assert event.occurred_at.timestamp() == 1795429800
    # The ledger event names no company: it makes no claim on the carrier.
    assert (event.consignment_id, event.carrier_id) == ("MC-2026-000123", CARRIER_NOT_NAMED)


async def test_a_revocation_of_an_unknown_permit_is_accepted_without_a_company(
    api: Client, publisher: RecordingPublisher
) -> None:
    response = await api.post(
        "/v1/messages/epermit",
        sample("epermit_permit_revoked.json"),
        params={"location": "AZ-ALAT"},
    )
    assert response.status_code == 202, response.text
    [event] = publisher.events
    assert event.event_type is EventType.PERMIT_REVOKED
    assert (event.consignment_id, event.carrier_id) == ("AZ-KZ-2026-2-2077", CARRIER_NOT_NAMED)
    assert event.occurred_at.timestamp() == 1795499940  # revoked_at, not event_timestamp


async def test_quota_events_are_answered_200_and_ignored(
    api: Client, keys: InMemoryKeyStore, publisher: RecordingPublisher
) -> None:
    # Even from a key with several locations and no location given: nothing is placed.
    response = await api.post("/v1/messages/epermit", sample("epermit_quota_created.json"))
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 0
    assert "QUOTA_CREATED" in response.json()["ignored"]
    assert publisher.events == []


def epermit(**changes: Any) -> str:
    return json.dumps(json.loads(sample("epermit_permit_created.json")) | changes)


def epermit_camel(**changes: Any) -> str:
    return json.dumps(json.loads(sample("epermit_permit_created_camelcase.json")) | changes)


@pytest.mark.parametrize(
    ("body", "params", "status", "field"),
    [
        (epermit(), {}, 422, "location"),
        (epermit(), {"location": "XX-NOWHERE"}, 422, "location"),
        (epermit(event_type="PERMIT_LOST"), {"location": "AZ-ALAT"}, 422, "event_type"),
        (epermit(permit_id="AZ-AZ-2026-1-1"), {"location": "AZ-ALAT"}, 422, "permit_id"),
        (epermit(expires_at="2027-01-31"), {"location": "AZ-ALAT"}, 422, "expires_at"),
        (epermit(expires_at="31/12/9999"), {"location": "AZ-ALAT"}, 422, "expires_at"),
        (epermit(event_timestamp="soon"), {"location": "AZ-ALAT"}, 422, "event_timestamp"),
        (epermit(company_id=None), {"location": "AZ-ALAT"}, 422, "company_id"),
        (epermit_camel(expireAt="2027-01-31"), {"location": "AZ-ALAT"}, 422, "expireAt"),
        (epermit_camel(permitId="AZ-1"), {"location": "AZ-ALAT"}, 422, "permitId"),
        (epermit(expires_at="01/01/0001"), {"location": "AZ-ALAT"}, 422, "expires_at"),
        (epermit_camel(expireAt="31/12/9999"), {"location": "AZ-ALAT"}, 422, "expireAt"),
    ],
    ids=[
        "no-location",
        "unknown-location",
        "unknown-type",
        "bad-permit-id",
        "bad-date",
        "date-beyond-year-9999",
        "wrong-type",
        "created-without-company",
        "camelcase-bad-date",
        "camelcase-bad-permit-id",
        "date-year-1",
        "camelcase-date-year-9999",
    ],
)
async def test_bad_epermit_events_are_problems(
    api: Client,
    publisher: RecordingPublisher,
    body: str | bytes,
    params: dict[str, str],
    status: int,
    field: str,
) -> None:
    response = await api.post("/v1/messages/epermit", body, params=params)
    assert_problem(response, status, field)
    assert publisher.events == []


async def test_a_foreign_epermit_location_is_403(
    api: Client, keys: InMemoryKeyStore, publisher: RecordingPublisher
) -> None:
    alat = keys.add("Alat port", locations=["AZ-ALAT"])
    response = await api.post(
        "/v1/messages/epermit",
        sample("epermit_permit_created.json"),
        key=alat,
        params={"location": "KZ-AKTAU"},
    )
    assert_problem(response, 403)
    assert publisher.events == []


def test_events_are_valid_contract_events(publisher: RecordingPublisher) -> None:
    # Adapters build through the TransitEvent model; round-trip one for good measure.
    message = ncts.to_message(sample("ncts_cc045c_write_off.xml"), REFERENCE)
    event = message.drafts[0].complete(MRN, "GE0123456789")
    assert TransitEvent.model_validate_json(event.model_dump_json()) == event


# --- arrival order ----------------------------------------------------------------------------

DEPARTURE = (
    "ncts_cc015c_declaration.xml",
    "ncts_cc028c_mrn_allocated.xml",
    "ncts_cc029c_release_for_transit.xml",
)
EN_ROUTE = ("ncts_cd118c_crossing_frontier.xml", "ncts_cc007c_arrival_notification.xml")
ONE_CONSIGNMENT = DEPARTURE + EN_ROUTE


async def test_one_consignments_messages_in_every_order_give_the_same_timeline() -> None:
    reference = REFERENCE
    timelines = set()
    orders = [
        (*first, *then)
        for first in itertools.permutations(DEPARTURE)
        for then in itertools.permutations(EN_ROUTE)
    ]
    for order in orders:
        directory = InMemoryDirectory()  # what the tracker knows, learnt as events are stored
        events = []
        for name in order:
            for event in await resolve(ncts.to_message(sample(name), reference), directory):
                directory.learn(event)
                events.append(event)
        timeline = build_timeline(events, reference)
        timelines.add(
            (
                timeline.consignment_id,
                timeline.carrier_id,
                timeline.state,
                tuple(e.fingerprint() for e in timeline.events),
            )
        )
    # The LRN-carrying departure messages come first in no particular order; the
    # MRN-only ones after a departure message was stored (docs/ingest.md says why).
    [(consignment, carrier, _, fingerprints)] = timelines
    assert (consignment, carrier) == ("GETRD-2026-000042", "GE0123456789")
    assert len(fingerprints) == len(ONE_CONSIGNMENT)
