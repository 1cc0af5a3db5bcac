"""Consignment aliases and the carrier not yet named, on a real PostgreSQL: the merge of a
placeholder, the conversion of sentinel rows by migration 0020, and carrier scoping."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import psycopg
import pytest

from corridor.events import CARRIER_NOT_NAMED, EventType, References
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest.in_memory import InMemoryKeyStore
from storage.aliases import AliasRepository
from storage.db import Pool, create_pool
from storage.migrate import MIGRATIONS_DIR, migrate
from storage.queries.api import ApiQueries
from storage.queries.consignments import ConsignmentQueries
from storage.queries.directory import DirectoryQueries
from storage.queries.tracker import TrackerQueries
from storage.rows import AlertRow
from storage.views import ConsignmentFilter
from storage.writes import WriteRepository
from tests.integration.test_storage_writes import (
    CARRIER,
    at,
    make_event,
    make_stay,
    make_timeline,
    row_of,
)

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

LRN, MRN = "GETRD-2026-000042", "24GE000201T0000420"


async def _placeholder_and_declaration(pool: Pool) -> None:
    """An arrival filed under its MRN (no carrier named) and a declaration under the LRN."""
    arrival = make_event(
        MRN,
        EventType.GATE_ARRIVED,
        "TR-SARP",
        5,
        carrier_id=CARRIER_NOT_NAMED,
        references=References(mrn=MRN),
    )
    declared = make_event(LRN, EventType.DECLARATION_SUBMITTED, "GE-POTI", 0)
    writer = WriteRepository(pool)
    await writer.write_batch(
        events=[arrival, declared],
        timelines=[
            make_timeline(MRN, [arrival], [make_stay(MRN, "TR-SARP", 5)], carrier_id=None),
            make_timeline(LRN, [declared]),
        ],
        alerts=[AlertRow("off_route", at(5), at(6), MRN, None, "TR-SARP", "not on route")],
    )


async def test_a_merged_placeholder_leaves_its_events_and_alerts_to_the_target(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    await _placeholder_and_declaration(storage_pool)
    carrier_of = "SELECT carrier_id FROM consignments WHERE consignment_id = %s"
    assert row_of(fresh_database_url, carrier_of, MRN) == (None,)

    aliases = AliasRepository(storage_pool)
    assert await aliases.merge({MRN: LRN}) == {MRN: LRN}

    events = await TrackerQueries(storage_pool).events_of([LRN, MRN])
    assert list(events) == [LRN]
    assert sorted(e.event_type for e in events[LRN]) == [
        EventType.DECLARATION_SUBMITTED,
        EventType.GATE_ARRIVED,
    ]
    for table in ("consignments", "stays", "transit_events"):
        query = f"SELECT count(*) FROM {table} WHERE consignment_id = %s"
        assert row_of(fresh_database_url, query, MRN) == (0,), table
    assert row_of(fresh_database_url, "SELECT consignment_id FROM alerts") == (LRN,)
    assert await aliases.aliases_of([MRN, LRN]) == {MRN: LRN}
    # The first link recorded wins; merging again (a replay) changes nothing.
    assert await aliases.merge({MRN: "ANOTHER-LRN"}) == {MRN: LRN}


async def test_a_consignment_without_a_named_carrier_is_seen_by_operators_only(
    storage_pool: Pool,
) -> None:
    await _placeholder_and_declaration(storage_pool)
    queries = ConsignmentQueries(storage_pool)

    assert await queries.consignment_status(MRN, carrier_id=CARRIER) is None
    assert await queries.timeline(MRN, carrier_id=CARRIER) is None
    found = await queries.consignment_status(MRN)
    assert found is not None
    assert found.consignment.carrier_id is None
    page = await queries.search_consignments(ConsignmentFilter(), carrier_id=CARRIER)
    assert [view.consignment_id for view in page.items] == [LRN]
    everything = await queries.search_consignments(ConsignmentFilter())
    assert {view.consignment_id for view in everything.items} == {LRN, MRN}


async def test_migration_0020_turns_the_sentinel_into_null(
    empty_database_url: str, tmp_path: Path
) -> None:
    before = tmp_path / "before-0020"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:4]) < 20:
            shutil.copy(path, before / path.name)
    migrate(empty_database_url, before)
    with psycopg.connect(empty_database_url) as conn:
        for cid, carrier in ((MRN, CARRIER_NOT_NAMED), (LRN, CARRIER)):
            conn.execute(
                "INSERT INTO consignments (consignment_id, carrier_id, state, first_event_at,"
                " last_event_at, event_count) VALUES (%s, %s, 'declared', now(), now(), 1)",
                (cid, carrier),
            )

    migrate(empty_database_url)

    with psycopg.connect(empty_database_url) as conn:
        rows = conn.execute(
            "SELECT consignment_id, carrier_id FROM consignments ORDER BY 1"
        ).fetchall()
    assert rows == [(MRN, None), (LRN, CARRIER)]


async def test_the_directory_reads_a_null_carrier_as_none(fresh_database_url: str) -> None:
    async with create_pool(fresh_database_url, name="aliases-it") as pool:
        await _placeholder_and_declaration(pool)
        carriers = await DirectoryQueries(pool).carriers_of([MRN, LRN])
    assert carriers == {MRN: None, LRN: CARRIER}


async def test_through_the_api_a_carrier_key_finds_no_unclaimed_consignment(
    storage_pool: Pool, fresh_database_url: str
) -> None:
    await _placeholder_and_declaration(storage_pool)
    keys = InMemoryKeyStore()
    carrier = keys.add("carrier", Role.CARRIER, carrier_id=CARRIER)
    operator = keys.add("ops", Role.OPERATOR)
    app = create_app(
        ApiSettings(database_url=fresh_database_url),
        reads=ApiQueries(storage_pool),
        key_store=keys,
        reference=load_reference(),
        now=lambda: at(10),
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as client:

        async def get(key: str, path: str) -> httpx.Response:
            return await client.get(path, headers={"Authorization": f"Bearer {key}"})

        unclaimed = await get(carrier, f"/v1/consignments/{MRN}")
        unknown = await get(carrier, "/v1/consignments/MC-0000-999999")
        assert unclaimed.status_code == unknown.status_code == 404
        assert unclaimed.json()["type"] == unknown.json()["type"]
        listed = (await get(carrier, "/v1/consignments")).json()["items"]
        assert [item["consignment_id"] for item in listed] == [LRN]

        seen = await get(operator, f"/v1/consignments/{MRN}")
        assert seen.status_code == 200
        assert seen.json()["carrier_id"] is None
