"""Authorization matrix: every role against every endpoint, own and foreign consignments.

No foreign data is ever returned, and a foreign consignment answers exactly like an
unknown one (same status, same problem document apart from the id itself).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from corridor.events import TransitEvent
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role, generate_key
from services.common.keystore import PostgresKeyStore
from services.ingest.in_memory import InMemoryKeyStore
from simulator import SimulationResult
from storage.db import create_pool
from storage.queries.api import ApiQueries
from storage.queries.keys import KeyQueries
from storage.rows import ApiKeyRow
from storage.views import ApiKeyRole
from storage.writes import WriteRepository

pytestmark = pytest.mark.integration

Sample = tuple[SimulationResult, list[TransitEvent]]
UNKNOWN_ID = "MC-0000-999999"
ROLES = ("none", "bad", "revoked", "publisher", "carrier_a", "carrier_b", "operator", "admin")


class Matrix:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str], own: dict[str, str]):
        self.client = client
        self.keys = keys
        self.own = own  # role -> one consignment id of that carrier

    async def get(self, role: str, path: str, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role in self.keys else {}
        return await self.client.get(path, params=params, headers=headers)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def matrix(populated_database_url: str, sample_run: Sample) -> AsyncIterator[Matrix]:
    truth = sample_run[0].truth
    carriers = sorted({c.carrier_id for c in truth.consignments.values()})
    store = InMemoryKeyStore()
    keys = {
        "bad": "mck_car_not-a-key-anyone-was-given",
        "revoked": generate_key(Role.OPERATOR).plain,  # never known, as a revoked key is
        "publisher": store.add("gate", Role.PUBLISHER, locations=["KZ-NUR-ZHOLY"]),
        "carrier_a": store.add("a", Role.CARRIER, carrier_id=carriers[0]),
        "carrier_b": store.add("b", Role.CARRIER, carrier_id=carriers[1]),
        "operator": store.add("ops", Role.OPERATOR),
        "admin": store.add("root", Role.ADMIN),
    }
    own = {
        role: next(c.consignment_id for c in truth.consignments.values() if c.carrier_id == carrier)
        for role, carrier in (("carrier_a", carriers[0]), ("carrier_b", carriers[1]))
    }
    async with create_pool(populated_database_url, min_size=1, max_size=4) as pool:
        app = create_app(
            ApiSettings(database_url=populated_database_url),
            reads=ApiQueries(pool),
            key_store=store,
            reference=load_reference(),
            now=lambda: truth.end,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Matrix(client, keys, own)


Params = dict[str, Any]
PERIOD: Params = {"from": "2026-02-01T00:00:00Z", "to": "2026-04-02T00:00:00Z"}
OPERATOR_ONLY: list[tuple[str, Params]] = [
    ("/v1/performance/locations", PERIOD),
    ("/v1/performance/crossings", PERIOD),
    ("/v1/performance/legs", PERIOD),
]
READERS: list[tuple[str, Params]] = [
    ("/v1/consignments", {"limit": 500}),
    ("/v1/alerts", {"since": "2026-01-01T00:00:00Z", "limit": 500}),
    ("/v1/locations", {}),
]


def consignment_paths(cid: str) -> list[str]:
    return [f"/v1/consignments/{cid}", f"/v1/consignments/{cid}/timeline"]


@pytest.mark.parametrize("role", ["none", "bad", "revoked"])
async def test_without_a_valid_key_every_v1_endpoint_answers_401(matrix: Matrix, role: str) -> None:
    paths = [*consignment_paths(matrix.own["carrier_a"]), *consignment_paths(UNKNOWN_ID)]
    plain: list[tuple[str, Params]] = [(p, {}) for p in paths]
    for path, params in [*plain, *OPERATOR_ONLY, *READERS]:
        response = await matrix.get(role, path, **params)
        assert response.status_code == 401, (role, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("role", ["publisher", "admin"])
async def test_publishers_and_admins_read_nothing(matrix: Matrix, role: str) -> None:
    paths = [*consignment_paths(matrix.own["carrier_a"]), *consignment_paths(UNKNOWN_ID)]
    plain: list[tuple[str, Params]] = [(p, {}) for p in paths]
    for path, params in [*plain, *OPERATOR_ONLY, *READERS]:
        response = await matrix.get(role, path, **params)
        assert response.status_code == 403, (role, path)
        assert response.json()["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    ("role", "other"), [("carrier_a", "carrier_b"), ("carrier_b", "carrier_a")]
)
async def test_a_carrier_sees_its_own_and_nothing_else(
    matrix: Matrix, role: str, other: str
) -> None:
    carrier = (await matrix.get(role, f"/v1/consignments/{matrix.own[role]}")).json()["carrier_id"]
    for path in consignment_paths(matrix.own[role]):
        assert (await matrix.get(role, path)).status_code == 200
    for foreign, unknown in zip(
        consignment_paths(matrix.own[other]), consignment_paths(UNKNOWN_ID), strict=True
    ):
        a, b = await matrix.get(role, foreign), await matrix.get(role, unknown)
        assert a.status_code == b.status_code == 404
        assert _same_headers(a, b)
        assert a.content.replace(matrix.own[other].encode(), b"ID") == b.content.replace(
            UNKNOWN_ID.encode(), b"ID"
        )
    for path, params in OPERATOR_ONLY:
        assert (await matrix.get(role, path, **params)).status_code == 403
    listing = (await matrix.get(role, "/v1/consignments", limit=500)).json()
    assert listing["items"]
    assert {i["carrier_id"] for i in listing["items"]} == {carrier}
    foreign_search = await matrix.get(role, "/v1/consignments", limit=500, state="completed")
    assert {i["carrier_id"] for i in foreign_search.json()["items"]} <= {carrier}
    alerts = (await matrix.get(role, "/v1/alerts", since="2026-01-01T00:00:00Z")).json()
    assert {a["carrier_id"] for a in alerts["items"]} <= {carrier}
    assert (await matrix.get(role, "/v1/locations")).status_code == 200


def _same_headers(a: httpx.Response, b: httpx.Response) -> bool:
    ignore = {"content-length"}
    return {k: v for k, v in a.headers.items() if k not in ignore} == {
        k: v for k, v in b.headers.items() if k not in ignore
    }


async def test_a_carrier_cannot_find_a_foreign_consignment_by_its_references(
    matrix: Matrix, sample_run: Sample
) -> None:
    _, events = sample_run
    foreign_id = matrix.own["carrier_b"]
    refs = next(
        e.references
        for e in events
        if e.consignment_id == foreign_id
        and (e.references.tir_carnet or e.references.vehicle_plates)
    )
    params = (
        {"tir_carnet": refs.tir_carnet}
        if refs.tir_carnet
        else {"vehicle_plate": refs.vehicle_plates[0]}
    )
    as_owner = (await matrix.get("carrier_b", "/v1/consignments", **params)).json()
    as_other = (await matrix.get("carrier_a", "/v1/consignments", **params)).json()
    assert foreign_id in [i["consignment_id"] for i in as_owner["items"]]
    assert foreign_id not in [i["consignment_id"] for i in as_other["items"]]


async def test_an_operator_reads_everything(matrix: Matrix) -> None:
    for cid in matrix.own.values():
        for path in consignment_paths(cid):
            assert (await matrix.get("operator", path)).status_code == 200
    for path, params in [*OPERATOR_ONLY, *READERS]:
        assert (await matrix.get("operator", path, **params)).status_code == 200, path
    carriers = {
        i["carrier_id"]
        for i in (await matrix.get("operator", "/v1/consignments", limit=500)).json()["items"]
    }
    assert len(carriers) > 2
    for path in consignment_paths(UNKNOWN_ID):
        assert (await matrix.get("operator", path)).status_code == 404


@pytest.mark.parametrize("role", ROLES)
async def test_operations_endpoints_need_no_key(matrix: Matrix, role: str) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert (await matrix.get(role, path)).status_code == 200, path


async def test_real_key_store_active_and_revoked_keys(fresh_database_url: str) -> None:
    async with create_pool(fresh_database_url, min_size=1, max_size=2) as pool:
        writer = WriteRepository(pool)
        plain: dict[str, str] = {}
        ids = {}
        for name, role, carrier in (
            ("ops", Role.OPERATOR, None),
            ("gone", Role.OPERATOR, None),
            ("carrier", Role.CARRIER, "carrier-kz-01"),
        ):
            key = generate_key(role)
            plain[name] = key.plain
            ids[name] = await writer.insert_api_key(
                ApiKeyRow(
                    name=name,
                    role=ApiKeyRole(role.value),
                    prefix=key.lookup_prefix,
                    key_hash=key.digest,
                    allowed_locations=None,
                    carrier_id=carrier,
                )
            )
        assert await writer.revoke_api_key(ids["gone"], datetime.now(UTC))
        reads = ApiQueries(pool)
        app = create_app(
            ApiSettings(database_url=fresh_database_url),
            reads=reads,
            key_store=PostgresKeyStore(KeyQueries(pool)),
            reference=load_reference(),
            now=lambda: datetime.now(UTC),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:

            async def status(name: str, path: str) -> int:
                headers = {"Authorization": f"Bearer {plain[name]}"}
                return (await client.get(path, headers=headers)).status_code

            assert await status("ops", "/v1/performance/legs") == 200
            assert await status("gone", "/v1/performance/legs") == 401
            assert await status("carrier", "/v1/performance/legs") == 403
            assert await status("carrier", "/v1/consignments") == 200
            since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            assert await status("carrier", f"/v1/alerts?since={since.replace('+', '%2B')}") == 200
