"""The API with an in-memory read repository and key store: routing, auth, validation,
paging and problem documents, in milliseconds."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from pydantic import ValidationError

from corridor.model import StayStatus
from services.api import examples, schemas
from services.api.app import create_app
from services.api.in_memory import InMemoryReads
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.common.reference_data import load_corridor_reference
from services.ingest.in_memory import InMemoryKeyStore
from storage.views import RollupStatus

NOW = datetime(2026, 3, 20, tzinfo=UTC)
OTHER = "carrier-tr-01"
SLASHED = "CMR/2026/0417"  # the contract allows '/' in consignment ids


class Client:
    def __init__(
        self, http: httpx.AsyncClient, keys: dict[str, str], reads: InMemoryReads, app: FastAPI
    ):
        self.http = http
        self.keys = keys
        self.reads = reads
        self.app = app

    async def get(
        self, path: str, as_: str | None = "operator", **params: object
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys[as_]}"} if as_ else {}
        return await self.http.get(path, params=params, headers=headers)  # type: ignore[arg-type]


def timelines() -> list[object]:
    own = [
        replace(
            examples.timeline_view(f"MC-A-{n:02d}"),
            consignment=replace(
                examples.consignment_view(f"MC-A-{n:02d}"),
                last_event_at=examples.at(n),
            ),
        )
        for n in range(7)
    ]
    return [*own, examples.timeline_view("MC-B-01", OTHER)]


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    store = InMemoryKeyStore()
    keys = {
        "operator": store.add("ops", Role.OPERATOR),
        "carrier": store.add("a", Role.CARRIER, carrier_id=examples.CARRIER_ID),
        "other": store.add("b", Role.CARRIER, carrier_id=OTHER),
        "admin": store.add("root", Role.ADMIN),
        "publisher": store.add("gate", Role.PUBLISHER, locations=["KZ-NUR-ZHOLY"]),
    }
    reads = InMemoryReads(
        timelines(),  # type: ignore[arg-type]
        [
            examples.alert_view(),
            replace(examples.alert_view(OTHER, "MC-B-01"), id=43),
            replace(examples.alert_view(OTHER, "MC-B-01"), id=44, withdrawn_at=NOW),
        ],
    )
    settings = ApiSettings(database_url="postgresql://u@h/db", api_page_size_max=100)
    app = create_app(
        settings, reads=reads, key_store=store, reference=load_corridor_reference(), now=lambda: NOW
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
        yield Client(http, keys, reads, app)


async def test_status_lists_stays_by_status(client: Client) -> None:
    body = (await client.get("/v1/consignments/MC-A-01", as_="carrier")).json()

    assert body["state"] == "at_location"
    assert [s["location"] for s in body["completed_stays"]] == ["CN-KHORGOS"]
    assert [s["location"] for s in body["in_progress_stays"]] == ["KZ-NUR-ZHOLY"]
    assert body["completed_stays"][0]["dwell_seconds"] == 20 * 3600
    assert body["completed_stays"][0]["dwell_hours"] == 20.0
    assert body["completed_stays"][0]["arrived_at"] == "2026-03-02T06:00:00Z"
    assert body["links"]["timeline"] == "/v1/consignments/MC-A-01/timeline"


async def test_timeline_has_events_stays_crossings_legs(client: Client) -> None:
    body = (await client.get("/v1/consignments/MC-A-01/timeline")).json()

    assert [e["event_type"] for e in body["events"]] == ["gate.arrived"]
    assert body["stays"][0]["stages"]["arrival_to_release_seconds"] == 18 * 3600
    assert body["crossings"][0]["direction"] == "CN->KZ"
    assert body["legs"][0]["swod_kmh"] == 30.0


async def test_ids_with_slashes_are_addressable_by_their_links(client: Client) -> None:
    client.reads.timelines[SLASHED] = examples.timeline_view(SLASHED)

    status = await client.get("/v1/consignments/CMR%2F2026%2F0417", as_="carrier")

    assert status.status_code == 200
    body = status.json()
    assert body["consignment_id"] == SLASHED
    assert body["links"]["self"] == "/v1/consignments/CMR%2F2026%2F0417"
    timeline = await client.get(body["links"]["timeline"], as_="carrier")
    assert timeline.status_code == 200
    assert timeline.json()["consignment"]["consignment_id"] == SLASHED
    foreign = await client.get("/v1/consignments/CMR%2F2026%2F0417", as_="other")
    assert foreign.status_code == 404


async def test_foreign_and_unknown_answer_byte_for_byte_alike(client: Client) -> None:
    for suffix in ("", "/timeline"):
        foreign = await client.get(f"/v1/consignments/MC-B-01{suffix}", as_="carrier")
        unknown = await client.get(f"/v1/consignments/MC-X-01{suffix}", as_="carrier")

        assert foreign.status_code == unknown.status_code == 404
        assert foreign.headers["content-type"] == "application/problem+json"
        assert foreign.content.replace(b"MC-B-01", b"MC-X-01") == unknown.content


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        (None, "/v1/consignments/MC-A-01", 401),
        ("admin", "/v1/consignments/MC-A-01", 403),
        ("publisher", "/v1/alerts", 403),
        ("carrier", "/v1/performance/locations", 403),
        ("carrier", "/v1/performance/crossings", 403),
        ("carrier", "/v1/performance/legs", 403),
        ("carrier", "/v1/locations", 200),
        ("operator", "/v1/performance/legs", 200),
        (None, "/healthz", 200),
    ],
)
async def test_roles(client: Client, role: str | None, path: str, status: int) -> None:
    response = await client.get(path, as_=role)
    assert response.status_code == status
    if status >= 400:
        assert response.json()["status"] == status


async def test_locations_show_their_customs_offices(client: Client) -> None:
    body = (await client.get("/v1/locations", as_="carrier")).json()

    offices = {item["code"]: item["customs_offices"] for item in body["items"]}
    kapikule = offices["TR-KAPIKULE"][0]
    assert (kapikule["reference_number"], kapikule["illustrative"]) == ("TR220200", False)
    assert all(offices.values()), "every corridor location has at least one office"


async def test_bad_key_is_401_with_a_challenge(client: Client) -> None:
    response = await client.http.get("/v1/alerts", headers={"Authorization": "Bearer mck_nope"})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="middle-corridor"'
    assert response.json()["detail"] == "unknown or revoked API key"


async def test_carrier_searches_and_alerts_only_its_own(client: Client) -> None:
    page = (await client.get("/v1/consignments", as_="other")).json()
    alerts = (await client.get("/v1/alerts", as_="other", since="2026-03-01T00:00:00Z")).json()

    assert [i["consignment_id"] for i in page["items"]] == ["MC-B-01"]
    assert [a["id"] for a in alerts["items"]] == [43, 44]


@pytest.mark.parametrize(
    ("is_open", "ids"), [("true", [42, 43]), ("false", [44]), (None, [42, 43, 44])]
)
async def test_alerts_filter_open_or_withdrawn(
    client: Client, is_open: str | None, ids: list[int]
) -> None:
    params = {"since": "2026-03-01T00:00:00Z"} | ({"open": is_open} if is_open else {})
    items = (await client.get("/v1/alerts", **params)).json()["items"]

    assert [a["id"] for a in items] == ids
    withdrawn = {a["id"]: a["withdrawn_at"] for a in items}
    assert withdrawn == {i: "2026-03-20T00:00:00Z" if i == 44 else None for i in ids}


async def test_carriers_see_only_their_own_withdrawn_alerts(client: Client) -> None:
    mine = await client.get("/v1/alerts", as_="carrier", since="2026-03-01T00:00:00Z", open="false")
    theirs = await client.get("/v1/alerts", as_="other", since="2026-03-01T00:00:00Z", open="false")

    assert mine.json()["items"] == []
    assert [a["id"] for a in theirs.json()["items"]] == [44]


async def test_search_pages_with_opaque_cursor_and_next_link(client: Client) -> None:
    seen: list[str] = []
    params: dict[str, object] = {"limit": 3, "vehicle_plate": "123 abc-02"}
    for _ in range(5):
        body = (await client.get("/v1/consignments", as_="carrier", **params)).json()
        seen += [i["consignment_id"] for i in body["items"]]
        if body["next_cursor"] is None:
            assert body["links"]["next"] is None
            break
        assert body["links"]["next"].startswith("/v1/consignments?limit=3&vehicle_plate=")
        params["cursor"] = body["next_cursor"]

    assert seen == [f"MC-A-{n:02d}" for n in reversed(range(7))]


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        (
            "/v1/performance/locations",
            {"from": "2026-03-10T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
            "from",
        ),
        (
            "/v1/performance/crossings",
            {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            "to",
        ),
        ("/v1/performance/legs", {"from": "2026-03-01T00:00:00"}, "from"),
        ("/v1/performance/locations", {"bucket": "hour", "from": "2026-01-01T00:00:00Z"}, "bucket"),
        ("/v1/performance/locations", {"bucket": "month"}, "bucket"),
        ("/v1/performance/locations", {"location": "KZ-NOWHERE"}, "location"),
        ("/v1/performance/legs", {"origin": "XX"}, "origin"),
        ("/v1/performance/legs", {"to": "0001-01-01T00:00:00+01:00"}, "to"),
        ("/v1/consignments", {"limit": 101}, "limit"),
        ("/v1/consignments", {"limit": 0}, "limit"),
        ("/v1/consignments", {"cursor": "bm90LWEtY3Vyc29y"}, "cursor"),
        ("/v1/consignments", {"state": "lost"}, "state"),
        ("/v1/alerts", {"cursor": "eyJhZnRlciI6ICJ4In0"}, "cursor"),
        ("/v1/alerts", {"kind": "nope"}, "kind"),
        ("/v1/alerts", {"open": "maybe"}, "open"),
        ("/v1/alerts", {"since": "9999-12-31T23:00:00Z"}, "since"),
        # PostgreSQL text cannot hold NUL; the query must never reach it.
        ("/v1/consignments", {"mrn": "24GB\x00"}, "mrn"),
        ("/v1/consignments", {"vehicle_plate": "\x00"}, "vehicle_plate"),
    ],
)
async def test_invalid_parameters_are_422_naming_the_parameter(
    client: Client, path: str, params: dict[str, Any], field: str
) -> None:
    response = await client.get(path, **params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/invalid-request"
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_default_range_is_the_last_30_days(client: Client) -> None:
    body = (await client.get("/v1/performance/crossings")).json()

    assert body["range"] == {"from": "2026-02-18T00:00:00Z", "to": "2026-03-20T00:00:00Z"}


async def test_location_performance_buckets(client: Client) -> None:
    body = (
        await client.get(
            "/v1/performance/locations",
            location="CN-KHORGOS",
            bucket="week",
            **{"from": "2026-02-01T00:00:00Z"},
        )
    ).json()

    [item] = body["items"]
    assert (item["bucket_start"], item["bucket_end"]) == (
        "2026-03-02T00:00:00Z",
        "2026-03-09T00:00:00Z",
    )
    assert item["dwell"]["count"] == 8  # every carrier's, for an operator
    assert item["dwell"]["median_hours"] == 20.0
    assert body["in_progress_now"] == []


async def test_location_report_is_its_documented_model(client: Client) -> None:
    # The route writes its JSON directly (present.location_report_json), not via the model.
    response = await client.get("/v1/performance/locations", bucket="day")
    document = client.app.openapi()

    assert response.headers["content-type"] == "application/json"
    report = schemas.LocationPerformanceReport.model_validate_json(response.content)
    assert response.content == report.model_dump_json(by_alias=True).encode()
    assert report.items
    operation = document["paths"]["/v1/performance/locations"]["get"]
    assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LocationPerformanceReport"
    }


async def test_readyz_reflects_the_database(client: Client) -> None:
    assert (await client.get("/readyz", as_=None)).status_code == 200
    client.reads.reachable = False

    response = await client.get("/readyz", as_=None)

    assert response.status_code == 503
    assert response.json()["type"] == "/problems/database-unavailable"


def _rollups(failing: str) -> tuple[RollupStatus, ...]:
    return (
        RollupStatus("location_dwell_daily", NOW - timedelta(minutes=2), NOW, 0, None),
        RollupStatus("location_dwell_weekly", NOW - timedelta(hours=3), NOW, 0, None),
        RollupStatus(failing, NOW - timedelta(hours=1), NOW, 4, "policy: cannot refresh"),
    )


async def test_readyz_and_metrics_show_stale_and_failing_rollups(client: Client) -> None:
    client.reads.rollups = _rollups("crossing_time_daily")

    response = await client.get("/readyz", as_=None)
    metrics = (await client.get("/metrics", as_=None)).text

    # The API stays ready (it answers, saying as_of); the detail says what is wrong.
    assert response.status_code == 200
    states = {r["rollup"]: r["state"] for r in response.json()["kpi_rollups"]}
    assert states == {
        "location_dwell_daily": "fresh",
        "location_dwell_weekly": "stale",
        "crossing_time_daily": "failing",
    }
    assert 'kpi_rollup_consecutive_failures{rollup="crossing_time_daily"} 4.0' in metrics
    assert 'kpi_rollup_age_seconds{rollup="location_dwell_weekly"} 10800.0' in metrics


async def test_kpi_answers_say_as_of_when(client: Client) -> None:
    client.reads.rollups = _rollups("crossing_time_daily")
    long_range = {"from": "2025-12-01T00:00:00Z"}  # beyond the exact limit: the rollups

    weekly = (await client.get("/v1/performance/locations", bucket="week", **long_range)).json()
    daily = (await client.get("/v1/performance/locations", bucket="day", **long_range)).json()
    crossings = (await client.get("/v1/performance/crossings", **long_range)).json()
    legs = (await client.get("/v1/performance/legs", **long_range)).json()
    recent = (await client.get("/v1/performance/crossings")).json()

    assert (weekly["percentiles"], weekly["as_of"]) == ("exact", "2026-03-19T21:00:00Z")
    assert (daily["percentiles"], daily["as_of"]) == ("sketch", "2026-03-19T23:58:00Z")
    assert (crossings["percentiles"], crossings["as_of"]) == ("sketch", "2026-03-19T23:00:00Z")
    assert (legs["percentiles"], legs["as_of"]) == ("sketch", None)  # never refreshed
    assert (recent["percentiles"], recent["as_of"]) == ("exact", "2026-03-20T00:00:00Z")


async def test_metrics_count_requests_by_route_template_and_status(client: Client) -> None:
    await client.get("/v1/consignments/MC-A-01")
    await client.get("/v1/consignments/MC-Z-99")

    text = (await client.get("/metrics", as_=None)).text

    route = 'route="/v1/consignments/{consignment_id}"'
    assert f'api_requests_total{{method="GET",{route},status="200"}} 1.0' in text
    assert f'api_requests_total{{method="GET",{route},status="404"}} 1.0' in text
    assert "api_request_duration_seconds_bucket" in text
    assert "MC-Z-99" not in text


async def test_unknown_path_is_a_problem_document(client: Client) -> None:
    response = await client.get("/v1/nothing")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_openapi_declares_examples_security_and_problems() -> None:
    app = create_app(
        ApiSettings(database_url="postgresql://u@h/db"),
        reads=InMemoryReads(),
        key_store=InMemoryKeyStore(),
        reference=load_corridor_reference(),
        now=lambda: NOW,
    )
    document = app.openapi()

    assert "HTTPBearer" in document["components"]["securitySchemes"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            success = next(code for code in ("200", "201", "204") if code in operation["responses"])
            content = operation["responses"][success].get("content", {})
            assert success == "204" or "example" in content[next(iter(content))], (path, method)
            if path.startswith("/v1/"):
                assert {"401", "403", "422"} <= set(operation["responses"]), path
                assert operation["security"] == [{"HTTPBearer": []}], path


def test_settings_refuse_inconsistent_limits() -> None:
    with pytest.raises(ValidationError, match="API_PAGE_SIZE_DEFAULT"):
        ApiSettings(database_url="postgresql://u@h/db", api_page_size_default=600)
    assert ApiSettings(database_url="postgresql://u@h/db").api_port == 8002


def test_examples_are_consistent() -> None:
    assert examples.STATUS["consignment_id"] == examples.CONSIGNMENT_ID
    assert examples.LOCATION_REPORT["range"]["to"].endswith("Z")


async def test_status_says_when_a_waiting_truck_may_leave() -> None:
    # 30 trucks left KZ-NUR-ZHOLY after 1 h, 2 h, ... 30 h; ours has waited 6 h there.
    arrived = examples.at(100)

    def finished(n: int) -> object:
        cid = f"MC-DONE-{n:02d}"
        stay = replace(
            examples.stay_views(cid)[1],
            status=StayStatus.COMPLETED,
            arrived_at=arrived - timedelta(days=2),
            departed_at=arrived - timedelta(days=2) + timedelta(hours=n),
            dwell_seconds=n * 3600,
        )
        view = examples.timeline_view(cid, OTHER)
        return replace(view, stays=(stay,))

    waiting = examples.timeline_view("MC-WAIT", examples.CARRIER_ID)
    waiting = replace(
        waiting,
        consignment=replace(waiting.consignment, last_event_at=arrived + timedelta(hours=6)),
        stays=(replace(examples.stay_views("MC-WAIT")[1], arrived_at=arrived),),
    )
    store = InMemoryKeyStore()
    key = store.add("a", Role.CARRIER, carrier_id=examples.CARRIER_ID)
    reads = InMemoryReads([waiting, *(finished(n) for n in range(1, 31))])  # type: ignore[list-item]
    app = create_app(
        ApiSettings(database_url="postgresql://u@h/db"),
        reads=reads,
        key_store=store,
        reference=load_corridor_reference(),
        now=lambda: arrived + timedelta(days=1),  # the wall clock is ahead of the tracker's
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://api"
    ) as http:
        response = await http.get(
            "/v1/consignments/MC-WAIT", headers={"Authorization": f"Bearer {key}"}
        )

    clearance = response.json()["clearance"]
    # Judged at the latest stored event, six hours in: the 24 stays of 7 h .. 30 h count,
    # with a median (nearest rank) of 18 h and a p90 of 28 h after arrival.
    assert clearance["as_of"] == "2026-03-06T16:00:00Z"
    assert clearance["waited_hours"] == 6.0
    assert (clearance["recent_stays"], clearance["comparable_stays"]) == (30, 24)
    assert clearance["expected_departure_at"] == "2026-03-07T04:00:00Z"
    assert clearance["likely_departure_by"] == "2026-03-07T14:00:00Z"
    assert clearance["longer_than_usual"] is False


async def test_status_of_a_consignment_between_locations_has_no_outlook(client: Client) -> None:
    view = examples.timeline_view("MC-MOVING")
    moving = replace(view, stays=(examples.stay_views("MC-MOVING")[0],))
    client.reads.timelines["MC-MOVING"] = moving
    body = (await client.get("/v1/consignments/MC-MOVING")).json()
    assert body["in_progress_stays"] == []
    assert body["clearance"] is None
    assert "tracker_clock" not in client.reads.calls


def test_openapi_states_the_enforced_instant_bounds_and_cursor_shape() -> None:
    app = create_app(
        ApiSettings(database_url="postgresql://u@h/db"),
        reads=InMemoryReads(),
        key_store=InMemoryKeyStore(),
        reference=load_corridor_reference(),
        now=lambda: NOW,
    )
    document = app.openapi()
    for path, name in [
        ("/v1/performance/locations", "from"),
        ("/v1/performance/legs", "to"),
        ("/v1/alerts", "since"),
        ("/v1/consignments", "last_event_before"),
    ]:
        [parameter] = [p for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
        assert parameter["schema"]["formatMinimum"] == "1970-01-01T00:00:00Z", (path, name)
        assert parameter["schema"]["formatExclusiveMaximum"] == "9999-01-01T00:00:00Z"
    [cursor] = [
        p for p in document["paths"]["/v1/alerts"]["get"]["parameters"] if p["name"] == "cursor"
    ]
    assert cursor["schema"]["anyOf"][0]["pattern"] == "^[A-Za-z0-9_-]+$"
    [start] = [
        p
        for p in document["paths"]["/v1/performance/locations"]["get"]["parameters"]
        if p["name"] == "from"
    ]
    assert "400" in start["description"]


@pytest.mark.parametrize(
    ("as_", "status", "detail"),
    [
        (None, 401, "missing bearer API key"),
        ("operator", 403, "role 'operator' may not use this endpoint"),
        ("carrier", 422, None),
    ],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/webhooks/endpoints"),
        ("PATCH", "/v1/webhooks/endpoints/0b6c7d1e-0000-4000-8000-000000000001"),
    ],
)
async def test_a_malformed_webhook_body_is_judged_after_the_caller(
    client: Client, as_: str | None, status: int, detail: str | None, method: str, path: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if as_:
        headers["Authorization"] = f"Bearer {client.keys[as_]}"
    response = await client.http.request(method, path, content=b"{not json", headers=headers)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if detail is not None:
        assert problem["detail"] == detail
    else:  # where the body stops being JSON
        assert problem["errors"] == [{"field": "[1]", "rule": "JSON decode error"}]
