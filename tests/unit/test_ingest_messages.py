"""NCTS, eTIR and e-Permit messages mapped to transit events, through the HTTP API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from corridor.events import EventType, TransitEvent
from corridor.reference import load_reference
from services.ingest import create_app
from services.ingest.adapters import ncts
from services.ingest.adapters.base import MalformedMessage, ReferenceKind, UnsafeXml
from services.ingest.memory import InMemoryDirectory, InMemoryKeyStore, RecordingPublisher
from tests.unit.test_ingest_api import NOW, assert_problem, settings

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
MRN = "24GE000201T0000420"
ALL_LOCATIONS = [location.code for location in load_reference().locations]


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
        reference=load_reference(),
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
        MRN,
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
        MRN,
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
        "ncts_cc168c_left_security_area.xml",
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
    # Messages without a carrier (arrival, release at destination) need the directory.
    directory.add(ReferenceKind.MRN, MRN, MRN, "GE0123456789")
    response = await api.post(
        "/v1/messages/ncts", sample(name), headers={"Content-Type": "application/xml"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["results"][0]["warnings"] == []
    [published] = publisher.events
    zone = load_reference().location(location).timezone
    assert published.event_type is event_type
    assert published.location == location
    assert published.occurred_at == local(local_time, zone)
    assert published.consignment_id == consignment
    assert published.carrier_id == "GE0123456789"
    assert published.source.system.value == "ncts"
    assert (
        published.attributes.customs_office in load_reference().location(location).customs_offices
    )


def test_release_for_transit_carries_references_seals_and_mode() -> None:
    message = ncts.to_message(sample("ncts_cc029c_release_for_transit.xml"), load_reference())
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


async def test_the_directory_supplies_consignment_and_carrier(
    api: Client, publisher: RecordingPublisher, directory: InMemoryDirectory
) -> None:
    directory.add(ReferenceKind.MRN, MRN, "MC-2026-000777", "carrier-ge-07")
    await api.post("/v1/messages/ncts", sample("ncts_cc029c_release_for_transit.xml"))
    [event] = publisher.events
    assert (event.consignment_id, event.carrier_id) == ("MC-2026-000777", "carrier-ge-07")


async def test_unknown_consignment_without_a_carrier_is_422_naming_the_field(
    api: Client, publisher: RecordingPublisher
) -> None:
    response = await api.post("/v1/messages/ncts", sample("ncts_cc007c_arrival_notification.xml"))
    assert_problem(response, 422, "Consignment.Carrier.identificationNumber")
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
    assert warning["field"] == "references.mrn"
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
            "CustomsOfficeOfDeparture.referenceNumber",
        ),
        (
            sample("ncts_cc029c_release_for_transit.xml").replace(MRN.encode(), b"24GE0002"),
            422,
            "references.mrn",
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


async def test_permit_created_maps_to_permit_issued(
    api: Client, publisher: RecordingPublisher
) -> None:
    response = await api.post(
        "/v1/messages/epermit",
        sample("epermit_permit_created.json"),
        params={"location": "KZ-NUR-ZHOLY"},
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
    assert event.consignment_id == "MC-2026-000123"


async def test_permit_revoked_maps_to_permit_revoked(
    api: Client, directory: InMemoryDirectory, publisher: RecordingPublisher
) -> None:
    directory.add(ReferenceKind.PERMIT_ID, "AZ-KZ-2026-2-2077", "MC-2026-000200", "carrier-kz-02")
    response = await api.post(
        "/v1/messages/epermit",
        sample("epermit_permit_revoked.json"),
        params={"location": "AZ-ALAT"},
    )
    assert response.status_code == 202, response.text
    assert [e.event_type for e in publisher.events] == [EventType.PERMIT_REVOKED]


def epermit(**changes: Any) -> str:
    return json.dumps(json.loads(sample("epermit_permit_created.json")) | changes)


@pytest.mark.parametrize(
    ("body", "params", "status", "field"),
    [
        (epermit(), {}, 422, "location"),
        (epermit(), {"location": "XX-NOWHERE"}, 422, "location"),
        (epermit(eventType="PERMIT_LOST"), {"location": "AZ-ALAT"}, 422, "eventType"),
        (epermit(permitId="AZ-AZ-2026-1-1"), {"location": "AZ-ALAT"}, 422, "permitId"),
        (epermit(expireAt="2027-01-31"), {"location": "AZ-ALAT"}, 422, "expireAt"),
        (epermit(expireAt="31/12/9999"), {"location": "AZ-ALAT"}, 422, "expireAt"),
        (epermit(expireAt="01/01/0001"), {"location": "AZ-ALAT"}, 422, "expireAt"),
        (epermit(eventTimestamp="soon"), {"location": "AZ-ALAT"}, 422, "eventTimestamp"),
        (sample("epermit_permit_used.json"), {"location": "AZ-ALAT"}, 422, "companyId"),
    ],
    ids=[
        "no-location",
        "unknown-location",
        "unknown-type",
        "bad-permit-id",
        "bad-date",
        "expires-end-of-year-9999",
        "expires-year-1",
        "wrong-type",
        "unknown-permit-without-company",
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
    message = ncts.to_message(sample("ncts_cc045c_write_off.xml"), load_reference())
    event = message.drafts[0].complete(MRN, "GE0123456789")
    assert TransitEvent.model_validate_json(event.model_dump_json()) == event
