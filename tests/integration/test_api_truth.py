"""The API against the simulator's ground truth, on a database holding a simulated month.

Stays, dwell, crossings and legs per consignment, search, and KPI figures computed here
independently from the truth (`corridor.kpi.percentile`) must match the endpoints.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio

from corridor.clearance import RECENT_WINDOW, clearance_outlook
from corridor.events import TransitEvent
from corridor.journey import ConsignmentState, StayStatus
from corridor.kpi import mean, median, p90
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest.memory import InMemoryKeyStore
from simulator import SimulationResult
from simulator.truth import ConsignmentTruth, GroundTruth
from storage.db import create_pool
from storage.reads import ReadRepository
from storage.views import Percentiles

pytestmark = pytest.mark.integration

Sample = tuple[SimulationResult, list[TransitEvent]]


class Api:
    def __init__(self, client: httpx.AsyncClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    async def get(self, path: str, as_: str = "operator", **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[as_]}"}
        response = await self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


@asynccontextmanager
async def serve_api(
    database_url: str, truth: GroundTruth, exact_percentiles_max_days: int
) -> AsyncIterator[Api]:
    store = InMemoryKeyStore()
    keys = {"operator": store.add("ops", Role.OPERATOR)}
    for carrier in {c.carrier_id for c in truth.consignments.values()}:
        keys[carrier] = store.add(carrier, Role.CARRIER, carrier_id=carrier)
    settings = ApiSettings(
        database_url=database_url,
        api_max_range_days=400,
        api_exact_percentiles_max_days=exact_percentiles_max_days,
    )
    async with create_pool(database_url, min_size=1, max_size=4) as pool:
        app = create_app(
            settings,
            reads=ReadRepository(pool),
            key_store=store,
            reference=load_reference(),
            now=lambda: truth.end,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield Api(client, keys)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api(populated_database_url: str, sample_run: Sample) -> AsyncIterator[Api]:
    """Exact percentiles for every range the tests ask (up to 400 days)."""
    async with serve_api(populated_database_url, sample_run[0].truth, 400) as served:
        yield served


@pytest_asyncio.fixture(
    scope="module", loop_scope="session", params=[Percentiles.EXACT, Percentiles.SKETCH]
)
async def kpi(
    request: pytest.FixtureRequest, populated_database_url: str, sample_run: Sample
) -> AsyncIterator[tuple[Api, Percentiles]]:
    """The KPI endpoints with exact percentiles, and with every range over one day (the
    tests' ranges are 37 days) answered from the rollups."""
    limit = 400 if request.param is Percentiles.EXACT else 1
    async with serve_api(populated_database_url, sample_run[0].truth, limit) as served:
        yield served, request.param


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def truth_of(sample: Sample) -> GroundTruth:
    return sample[0].truth


def expected_stay(stay: Any) -> dict[str, Any]:
    return {
        "location": stay.location,
        "visit": stay.visit,
        "status": stay.status.value,
        "arrived_at": iso(stay.arrived_at),
        "released_at": iso(stay.released_at),
        "departed_at": iso(stay.departed_at),
        "dwell_seconds": stay.dwell_seconds,
    }


_STAY_KEYS = ("location", "visit", "status", "arrived_at", "released_at", "departed_at")


def actual_stay(stay: dict[str, Any]) -> dict[str, Any]:
    return {key: stay[key] for key in (*_STAY_KEYS, "dwell_seconds")}


async def test_status_of_every_consignment_matches_the_truth(api: Api, sample_run: Sample) -> None:
    for truth in truth_of(sample_run).consignments.values():
        body = await api.get(f"/v1/consignments/{truth.consignment_id}", as_=truth.carrier_id)

        assert body["state"] == truth.state.value, truth.consignment_id
        assert body["current_location"] == truth.current_location
        assert body["carrier_id"] == truth.carrier_id
        for kind, key in (
            (StayStatus.COMPLETED, "completed_stays"),
            (StayStatus.IN_PROGRESS, "in_progress_stays"),
            (StayStatus.DEPARTURE_MISSING, "departure_missing_stays"),
        ):
            expected = [expected_stay(s) for s in truth.stays if s.status is kind]
            assert [actual_stay(s) for s in body[key]] == expected, (truth.consignment_id, key)


async def test_clearance_outlook_of_every_waiting_consignment_matches_the_truth(
    api: Api, sample_run: Sample
) -> None:
    """ "When will it clear?" recomputed from the truth: the month's stays at the location,
    judged at the latest event time stored (the month ends with trucks still waiting)."""
    truth = truth_of(sample_run)
    as_of = min(max(event.occurred_at for event in sample_run[1]), truth.end)
    every_stay = [stay for c in truth.consignments.values() for stay in c.stays]
    waiting = [c for c in truth.consignments.values() if c.state is ConsignmentState.AT_LOCATION]
    assert len(waiting) >= 5
    estimated = 0
    for consignment in truth.consignments.values():
        body = await api.get(
            f"/v1/consignments/{consignment.consignment_id}", as_=consignment.carrier_id
        )
        open_stays = [s for s in consignment.stays if s.status is StayStatus.IN_PROGRESS]
        if not open_stays:
            assert body["clearance"] is None, consignment.consignment_id
            continue
        stay = max(open_stays, key=lambda s: s.arrived_at)
        since = as_of - RECENT_WINDOW
        recent = [
            s.dwell_seconds
            for s in every_stay
            if s.location == stay.location
            and s.status is StayStatus.COMPLETED
            and s.dwell_seconds is not None
            and s.departed_at is not None
            and since <= s.departed_at < as_of
            and since - RECENT_WINDOW <= s.arrived_at < as_of
        ]
        expected = clearance_outlook(stay.location, stay.arrived_at, as_of, recent)
        assert body["clearance"] == {
            "location": stay.location,
            "arrived_at": iso(stay.arrived_at),
            "as_of": iso(as_of),
            "waited_seconds": round(expected.waited.total_seconds()),
            "waited_hours": round(expected.waited.total_seconds() / 3600, 4),
            "window_days": 30,
            "recent_stays": expected.recent_stays,
            "comparable_stays": expected.comparable_stays,
            "expected_departure_at": iso(expected.expected_departure_at),
            "likely_departure_by": iso(expected.likely_departure_by),
            "longer_than_usual": expected.longer_than_usual,
        }, consignment.consignment_id
        estimated += expected.expected_departure_at is not None
    assert estimated >= 1, "no waiting consignment got an estimate: the test would prove little"


async def test_timeline_of_every_consignment_matches_the_truth(
    api: Api, sample_run: Sample
) -> None:
    _, events = sample_run
    events_per_consignment: dict[str, int] = defaultdict(int)
    for event in events:
        events_per_consignment[event.consignment_id] += 1
    for truth in truth_of(sample_run).consignments.values():
        body = await api.get(f"/v1/consignments/{truth.consignment_id}/timeline")

        assert body["consignment"]["consignment_id"] == truth.consignment_id
        assert len(body["events"]) == events_per_consignment[truth.consignment_id]
        times = [e["occurred_at"] for e in body["events"]]
        assert times == sorted(times)
        assert [actual_stay(s) for s in body["stays"]] == [expected_stay(s) for s in truth.stays]
        assert [_crossing(c) for c in body["crossings"]] == [
            (c.border_id, c.direction, iso(c.arrived_at), iso(c.departed_at), c.tfi1_seconds)
            for c in truth.crossings
        ]
        assert [_leg(x) for x in body["legs"]] == [
            (
                x.from_location,
                x.to_location,
                iso(x.departed_at),
                iso(x.arrived_at),
                x.travel_seconds,
                x.distance_km,
                x.origin_dwell_seconds,
            )
            for x in truth.legs
        ]


def _crossing(c: dict[str, Any]) -> tuple[Any, ...]:
    return (c["border_id"], c["direction"], c["arrived_at"], c["departed_at"], c["tfi1_seconds"])


def _leg(x: dict[str, Any]) -> tuple[Any, ...]:
    return (
        x["from_location"],
        x["to_location"],
        x["departed_at"],
        x["arrived_at"],
        x["travel_seconds"],
        x["distance_km"],
        x["origin_dwell_seconds"],
    )


async def _all_pages(api: Api, as_: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = await api.get(
            "/v1/consignments", as_=as_, **params, **({"cursor": cursor} if cursor else {})
        )
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["links"]["next"] is None
            return items
        assert f"cursor={cursor}" in page["links"]["next"]
    raise AssertionError("pagination did not end")


async def test_a_carrier_pages_through_exactly_its_own_consignments(
    api: Api, sample_run: Sample
) -> None:
    truth = truth_of(sample_run)
    for carrier in sorted({c.carrier_id for c in truth.consignments.values()})[:4]:
        items = await _all_pages(api, carrier, limit=4)

        ids = [item["consignment_id"] for item in items]
        assert len(ids) == len(set(ids))
        assert set(ids) == {
            c.consignment_id for c in truth.consignments.values() if c.carrier_id == carrier
        }
        stamps = [(item["last_event_at"], item["consignment_id"]) for item in items]
        assert stamps == sorted(stamps, reverse=True)


async def test_stuck_lists_by_state_and_location(api: Api, sample_run: Sample) -> None:
    truth = truth_of(sample_run)
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for c in truth.consignments.values():
        if c.current_location and c.state.value in ("in_transit", "at_location"):
            wanted[(c.state.value, c.current_location)].add(c.consignment_id)
    assert wanted
    for (state, location), ids in wanted.items():
        items = await _all_pages(api, "operator", state=state, location=location, limit=50)
        assert {i["consignment_id"] for i in items} == ids, (state, location)


async def test_search_by_each_kind_of_reference(api: Api, sample_run: Sample) -> None:
    _, events = sample_run
    found: dict[str, tuple[str, str]] = {}
    for event in events:
        refs = event.references
        for name, value in (
            ("tir_carnet", refs.tir_carnet),
            ("mrn", refs.mrn),
            ("permit_id", refs.permit_id),
            ("vehicle_plate", refs.vehicle_plates[0] if refs.vehicle_plates else None),
            ("container", refs.container_numbers[0] if refs.container_numbers else None),
        ):
            if value and name not in found:
                found[name] = (value, event.consignment_id)
    assert {"tir_carnet", "vehicle_plate"} <= set(found)
    for name, (value, consignment_id) in found.items():
        page = await api.get("/v1/consignments", **{name: value})
        assert consignment_id in [i["consignment_id"] for i in page["items"]], name


def _close(actual: float | None, expected: float | None) -> bool:
    if actual is None or expected is None:
        return actual is expected
    return abs(actual - expected) <= 1e-6 * max(1.0, abs(expected))


def _stats_match(
    stats: dict[str, Any], values: list[float], mode: Percentiles = Percentiles.EXACT
) -> bool:
    """Counts and means exactly; median and p90 exactly, or within the documented 1 % of
    a sketch percentile."""
    exact = stats["count"] == len(values) and _close(stats["mean_seconds"], mean(values))
    return (
        exact
        and _near(stats["median_seconds"], median(values), mode)
        and _near(stats["p90_seconds"], p90(values), mode)
    )


def _near(actual: float | None, expected: float | None, mode: Percentiles) -> bool:
    if mode is Percentiles.EXACT or actual is None or expected is None:
        return _close(actual, expected)
    return abs(actual - expected) <= 0.01 * abs(expected)


def _median_match(actual: float | None, values: list[float], mode: Percentiles) -> bool:
    return _near(actual, median(values), mode)


def _week(moment: datetime) -> str:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return iso(day - timedelta(days=day.weekday())) or ""


def _range(truth: GroundTruth) -> dict[str, str]:
    return {"from": iso(truth.start - timedelta(days=7)) or "", "to": iso(truth.end) or ""}


def _consignments(truth: GroundTruth) -> list[ConsignmentTruth]:
    return list(truth.consignments.values())


async def test_location_dwell_kpis_match_the_truth(
    kpi: tuple[Api, Percentiles], sample_run: Sample
) -> None:
    api, mode = kpi
    truth = truth_of(sample_run)
    dwell: dict[tuple[str, str], list[float]] = defaultdict(list)
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for c in _consignments(truth):
        for s in c.stays:
            key = (s.location, _week(s.arrived_at))
            counts[key][0] += 1
            if s.status is StayStatus.COMPLETED and s.dwell_seconds is not None:
                dwell[key].append(float(s.dwell_seconds))
            if s.status is StayStatus.IN_PROGRESS:
                counts[key][1] += 1

    body = await api.get("/v1/performance/locations", bucket="week", **_range(truth))

    # Weekly buckets are exact from either source; the rollups' answer says how fresh.
    assert body["percentiles"] == Percentiles.EXACT.value
    if mode is Percentiles.EXACT:
        assert body["as_of"] == iso(truth.end)  # read from the base tables at "now"
    else:
        assert body["as_of"] is not None
        assert body["as_of"] != iso(truth.end)
    got = {(i["location"], i["bucket_start"]): i for i in body["items"]}
    assert set(got) == set(counts)
    for key, item in got.items():
        assert [item["stays_count"], item["in_progress_count"]] == counts[key], key
        assert _stats_match(item["dwell"], dwell[key]), key
    open_now: dict[str, int] = defaultdict(int)
    for c in _consignments(truth):
        for s in c.stays:
            open_now[s.location] += s.status is StayStatus.IN_PROGRESS
    assert {q["location"]: q["in_progress_count"] for q in body["in_progress_now"]} == {
        k: v for k, v in open_now.items() if v
    }


async def test_one_location_daily(kpi: tuple[Api, Percentiles], sample_run: Sample) -> None:
    api, mode = kpi
    truth = truth_of(sample_run)
    dwell: dict[str, list[float]] = defaultdict(list)
    for c in _consignments(truth):
        for s in c.stays:
            if s.location == "KZ-NUR-ZHOLY" and s.status is StayStatus.COMPLETED:
                day = s.arrived_at.replace(hour=0, minute=0, second=0, microsecond=0)
                dwell[iso(day) or ""].append(float(s.dwell_seconds or 0))

    body = await api.get(
        "/v1/performance/locations", location="KZ-NUR-ZHOLY", bucket="day", **_range(truth)
    )

    assert body["percentiles"] == mode.value
    assert {i["location"] for i in body["items"]} == {"KZ-NUR-ZHOLY"}
    for item in body["items"]:
        assert _stats_match(item["dwell"], dwell.get(item["bucket_start"], []), mode), item


async def test_crossing_tfi1_kpis_match_the_truth(
    kpi: tuple[Api, Percentiles], sample_run: Sample
) -> None:
    api, mode = kpi
    truth = truth_of(sample_run)
    tfi1: dict[tuple[str, str], list[float]] = defaultdict(list)
    open_count: dict[tuple[str, str], int] = defaultdict(int)
    for c in _consignments(truth):
        for x in c.crossings:
            key = (x.border_id, x.direction)
            if x.tfi1_seconds is None:
                open_count[key] += 1
            else:
                tfi1[key].append(float(x.tfi1_seconds))

    body = await api.get("/v1/performance/crossings", **_range(truth))

    assert body["percentiles"] == mode.value
    got = {(i["border_id"], i["direction"]): i for i in body["items"]}
    assert set(got) == set(tfi1) | set(open_count)
    for key, item in got.items():
        assert item["in_progress_count"] == open_count[key], key
        assert _stats_match(item["tfi1"], tfi1[key], mode), key


async def test_leg_kpis_match_the_truth(kpi: tuple[Api, Percentiles], sample_run: Sample) -> None:
    api, mode = kpi
    truth = truth_of(sample_run)
    legs: dict[tuple[str, str, str], list[Any]] = defaultdict(list)
    for c in _consignments(truth):
        for x in c.legs:
            legs[(x.from_location, x.to_location, x.mode.value)].append(x)

    body = await api.get("/v1/performance/legs", **_range(truth))

    assert body["percentiles"] == mode.value
    got = {(i["from_location"], i["to_location"], i["mode"]): i for i in body["items"]}
    assert set(got) == set(legs)
    for key, item in got.items():
        group = legs[key]
        assert item["legs_count"] == len(group)
        travel = [float(x.travel_seconds) for x in group]
        assert _median_match(item["travel_median_seconds"], travel, mode), key
        swod = [x.speed_without_delay_kmh for x in group if x.speed_without_delay_kmh is not None]
        swd = [x.speed_with_delay_kmh for x in group if x.speed_with_delay_kmh is not None]
        assert _median_match(item["swod_median_kmh"], swod, mode), key
        assert _median_match(item["swd_median_kmh"], swd, mode), key


async def test_alerts_carriers_see_only_their_own(api: Api, sample_run: Sample) -> None:
    truth = truth_of(sample_run)
    since = iso(truth.start - timedelta(days=30))
    everything = await api.get("/v1/alerts", since=since, limit=500)
    by_carrier: dict[str, list[int]] = defaultdict(list)
    for alert in everything["items"]:
        by_carrier[alert["carrier_id"]].append(alert["id"])
    for carrier in {c.carrier_id for c in _consignments(truth)}:
        seen: list[int] = []
        cursor: str | None = None
        while True:
            extra: dict[str, str] = {"cursor": cursor} if cursor else {}
            page = await api.get("/v1/alerts", as_=carrier, since=since, limit=2, **extra)
            seen.extend(a["id"] for a in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == by_carrier.get(carrier, []), carrier


async def test_hourly_buckets_stay_exact(kpi: tuple[Api, Percentiles], sample_run: Sample) -> None:
    api, mode = kpi
    start = truth_of(sample_run).start
    window = {"from": iso(start) or "", "to": iso(start + timedelta(days=3)) or ""}

    hourly = await api.get("/v1/performance/locations", bucket="hour", **window)
    daily = await api.get("/v1/performance/locations", bucket="day", **window)

    assert hourly["percentiles"] == Percentiles.EXACT.value  # no hourly rollup to read
    assert daily["percentiles"] == mode.value
