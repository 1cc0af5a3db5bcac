"""The ETA in `GET /v1/consignments/{id}` on the simulated month, against the simulator.

Two questions: does the status answer what the rule answers over the month's own stays
and legs (the statistics read from PostgreSQL are the truth's), and do the trucks still
on their way at the month's end then arrive as the ETA said — the same simulation run on
past the month gives their true arrivals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import pytest
import pytest_asyncio

from corridor.eta import (
    ETA_WINDOW,
    CorridorStatistics,
    Position,
    duration_stats,
    estimate_arrival,
    route_directions,
)
from corridor.events import TransitEvent
from corridor.model import ConsignmentState, StayStatus
from corridor.reference import CorridorReference, load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.eta import CachedEtaStatistics
from services.common.keys import Role
from services.ingest.in_memory import InMemoryKeyStore
from simulator import SimulationResult
from simulator.fault_plan import plan_faults
from simulator.journeys import JourneySimulator
from simulator.truth import ConsignmentTruth
from storage.db import create_pool
from storage.queries.api import ApiQueries
from storage.queries.eta import EtaQueries
from tests.fixtures.corridor_data import SAMPLE_CONFIG

pytestmark = pytest.mark.integration

Sample = tuple[SimulationResult, list[TransitEvent]]
UNDER_WAY = {ConsignmentState.IN_TRANSIT, ConsignmentState.AT_LOCATION}


class _RunsOn(JourneySimulator):
    """The sample's simulation, letting journeys arrive after the window: every draw up
    to the window's end happens in the same order, so the month is unchanged."""

    def _declare(self) -> None:
        super()._declare()
        self.end += 120 * 86400


def true_arrivals(reference: CorridorReference) -> dict[str, datetime]:
    journeys = _RunsOn(SAMPLE_CONFIG, reference).run()
    plan_faults(journeys, SAMPLE_CONFIG)
    return {
        j.consignment_id: datetime.fromtimestamp(j.stays[-1].arrived, UTC)
        for j in journeys
        if len(j.stays) == len(j.route.locations)
    }


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(
    populated_database_url: str, sample_run: Sample
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    truth = sample_run[0].truth
    store = InMemoryKeyStore()
    keys = {c: store.add(c, Role.CARRIER, carrier_id=c) for c in SAMPLE_CONFIG.carriers}
    settings = ApiSettings(database_url=populated_database_url)
    async with create_pool(populated_database_url, min_size=1, max_size=2) as pool:
        app = create_app(
            settings,
            reads=ApiQueries(pool),
            key_store=store,
            reference=load_reference(),
            now=lambda: truth.end,
            eta_statistics=CachedEtaStatistics(EtaQueries(pool), ttl=60),
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as http:
            yield http, keys


def directions_from_plan(result: SimulationResult) -> dict[tuple[str, str, int], str]:
    """(consignment, location, visit) -> the direction its gate events reported."""
    directions: dict[tuple[str, str, int], str] = {}
    for journey in result.journeys:
        visits: dict[str, int] = defaultdict(int)
        for stay in journey.stays:
            visits[stay.location] += 1
            key = (journey.consignment_id, stay.location, visits[stay.location])
            directions[key] = stay.direction.value
    return directions


def statistics_from_truth(result: SimulationResult, as_of: datetime) -> CorridorStatistics:
    """The 30 days before `as_of` as the rule sees them, from the ground truth: stays that
    arrived in them and ended (also per direction), legs that departed in them."""
    since = as_of - ETA_WINDOW
    directions = directions_from_plan(result)
    dwell: dict[tuple[str, str], list[float]] = defaultdict(list)
    directed: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    travel: dict[tuple[str, str], list[float]] = defaultdict(list)
    for consignment in result.truth.consignments.values():
        mode = consignment.mode.value
        for stay in consignment.stays:
            if not since <= stay.arrived_at < as_of:
                continue
            if stay.status is StayStatus.COMPLETED and stay.dwell_seconds is not None:
                dwell[(stay.location, mode)].append(float(stay.dwell_seconds))
                direction = directions[(consignment.consignment_id, stay.location, stay.visit)]
                directed[(stay.location, mode, direction)].append(float(stay.dwell_seconds))
        for leg in consignment.legs:
            if since <= leg.departed_at < as_of:
                travel[(leg.from_location, leg.to_location)].append(leg.travel_seconds)
    return CorridorStatistics(
        since,
        as_of,
        {k: s for k, v in dwell.items() if (s := duration_stats(v))},
        {k: s for k, v in travel.items() if (s := duration_stats(v))},
        {k: s for k, v in directed.items() if (s := duration_stats(v))},
    )


def position_from_truth(consignment: ConsignmentTruth) -> Position | None:
    if not consignment.stays:
        return None
    latest = max(consignment.stays, key=lambda s: s.arrived_at)
    open_ = latest.status is StayStatus.IN_PROGRESS
    return Position(latest.location, latest.arrived_at, None if open_ else latest.departed_at)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


async def status(
    client: tuple[httpx.AsyncClient, dict[str, str]], consignment: ConsignmentTruth
) -> Any:
    http, keys = client
    response = await http.get(
        f"/v1/consignments/{consignment.consignment_id}",
        headers={"Authorization": f"Bearer {keys[consignment.carrier_id]}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_eta_of_every_consignment_is_the_rule_over_the_months_statistics(
    client: tuple[httpx.AsyncClient, dict[str, str]],
    sample_run: Sample,
    populated_database_url: str,
) -> None:
    truth = sample_run[0].truth
    as_of = min(max(event.occurred_at for event in sample_run[1]), truth.end)
    statistics = statistics_from_truth(sample_run[0], as_of)
    async with create_pool(populated_database_url, min_size=1, max_size=1) as pool:
        stored = await EtaQueries(pool).corridor_statistics(as_of - ETA_WINDOW, as_of)
    assert stored.dwell == statistics.dwell
    assert stored.travel == statistics.travel
    assert stored.dwell_by_direction == statistics.dwell_by_direction
    assert any(key[2] == "inbound" for key in stored.dwell_by_direction)
    reference = load_reference()
    countries = {code: location.country for code, location in reference.locations_by_code.items()}
    estimated = 0
    for consignment in truth.consignments.values():
        body = await status(client, consignment)
        if consignment.state not in {*UNDER_WAY, ConsignmentState.DECLARED}:
            assert body["eta"] is None, consignment.consignment_id
            continue
        route = reference.routes_by_id[consignment.route_id].locations
        expected = estimate_arrival(
            route,
            consignment.mode.value,
            position_from_truth(consignment),
            as_of,
            statistics,
            directions=route_directions(route, countries),
        )
        eta = body["eta"]
        assert eta["as_of"] == iso(as_of)
        assert eta["destination"] == route[-1]
        assert eta["arrival_p50"] == iso(expected.arrival_p50), consignment.consignment_id
        assert eta["arrival_p90"] == iso(expected.arrival_p90)
        assert eta["unavailable"] == (expected.unavailable and expected.unavailable.value)
        assert eta["reason"] == expected.reason
        assert [s["location"] for s in eta["remaining_stops"]] == [
            s.location for s in expected.stops
        ]
        assert [p["samples"] for p in eta["based_on"]] == [p.samples for p in expected.basis]
        estimated += expected.arrival_p50 is not None
    assert estimated >= 20, "too few estimates for the comparison to mean anything"


async def test_trucks_on_their_way_at_the_months_end_arrive_as_the_eta_said(
    client: tuple[httpx.AsyncClient, dict[str, str]], sample_run: Sample
) -> None:
    truth = sample_run[0].truth
    arrivals = true_arrivals(load_reference())
    errors: list[float] = []
    before_p50 = before_p90 = 0
    for consignment in truth.consignments.values():
        if consignment.state not in UNDER_WAY or consignment.consignment_id not in arrivals:
            continue
        eta = (await status(client, consignment))["eta"]
        if eta["arrival_p50"] is None:
            continue
        arrived = arrivals[consignment.consignment_id]
        p50 = datetime.fromisoformat(eta["arrival_p50"])
        p90 = datetime.fromisoformat(eta["arrival_p90"])
        stops = [datetime.fromisoformat(s["arrival_p50"]) for s in eta["remaining_stops"]]
        assert all(a <= b for a, b in pairwise(stops)), consignment.consignment_id
        assert datetime.fromisoformat(eta["as_of"]) < p50 <= p90
        errors.append(abs((p50 - arrived) / timedelta(hours=1)))
        before_p50 += arrived <= p50
        before_p90 += arrived <= p90
    count = len(errors)
    assert count >= 20
    # Calibrated: about half the trucks arrive before p50 and nine in ten before p90
    # (bounds wide enough for a few dozen trucks; bench.eta measures it on a quarter).
    assert 0.25 <= before_p50 / count <= 0.75, (before_p50, count)
    assert before_p90 / count >= 0.75, (before_p90, count)
    assert sorted(errors)[count // 2] < 72, "median error over three days"
