"""Simulator -> ingest (HTTP) -> Kafka -> tracker -> PostgreSQL -> API, against the truth.

A faulty month of traffic (re-sends, reordering, late events, missing departures,
conflicting duplicates, invalid payloads) is published through the ingest API the
way border systems would. What carriers and operators then read from the API must
be what the simulator says happened.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import Any

import httpx
import psycopg
import pytest

from corridor.kpi import percentile
from simulator import FaultRates, HttpSink, SimulationConfig, SimulationResult, replay, simulate
from simulator.sinks import with_invalid
from tests.e2e.conftest import CARRIER_A, Stack
from tests.integration.tracker_harness import truth_snapshot

CONFIG = SimulationConfig(
    seed=31,
    consignments=90,
    days=20,
    carriers=(CARRIER_A, "carrier-tr-02", "carrier-az-03"),
    faults=FaultRates(
        duplicate=0.04,
        out_of_order=0.04,
        late=0.02,
        missing_departure=0.02,
        conflicting_duplicate=0.02,
        invalid=0.02,
    ),
)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def simulated() -> SimulationResult:
    return simulate(CONFIG)


@pytest.fixture(scope="module")
async def replayed(stack: Stack, simulated: SimulationResult) -> dict[str, Any]:
    """Publish the month through ingest and wait until the tracker has caught up."""
    records = list(with_invalid(simulated.deliveries, simulated.invalid_payloads))
    async with httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as client:
        stats = await replay(records, HttpSink(client, stack.keys["publisher"]), batch_size=200)
    expected = truth_snapshot(simulated.truth)
    for _ in range(240):
        with psycopg.connect(stack.database_url) as conn:
            states = conn.execute(
                "SELECT consignment_id, state, current_location FROM consignments ORDER BY 1"
            ).fetchall()
        if [tuple(row) for row in states] == expected["states"]:
            break
        await asyncio.sleep(0.5)
    return {"stats": stats, "expected": expected}


async def test_every_valid_event_is_accepted_and_every_invalid_one_refused(
    replayed: dict[str, Any], simulated: SimulationResult
) -> None:
    stats = replayed["stats"]
    assert stats.rejected == len(simulated.invalid_payloads) > 0
    assert stats.accepted + stats.duplicates + stats.rejected == stats.sent
    assert stats.duplicates > 0  # the re-sends were recognised as such


async def test_carriers_read_their_timelines_as_the_truth_says(
    stack: Stack, replayed: dict[str, Any], simulated: SimulationResult
) -> None:
    mine = [c for c in simulated.truth.consignments.values() if c.carrier_id == CARRIER_A]
    assert mine
    headers = {"Authorization": f"Bearer {stack.keys['carrier_a']}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as client:
        for truth in mine:
            response = await client.get(f"/v1/consignments/{truth.consignment_id}/timeline")
            assert response.status_code == 200, stack.logs()
            body = response.json()
            assert body["consignment"]["state"] == truth.state.value
            assert body["consignment"]["current_location"] == truth.current_location
            assert [
                (s["location"], s["visit"], s["arrived_at"], s["departed_at"], s["dwell_seconds"])
                for s in body["stays"]
            ] == [
                (s.location, s.visit, _iso(s.arrived_at), _iso(s.departed_at), s.dwell_seconds)
                for s in truth.stays
            ]
            assert [
                (x["border_id"], x["direction"], x["tfi1_seconds"]) for x in body["crossings"]
            ] == [(x.border_id, x.direction, x.tfi1_seconds) for x in truth.crossings]
            assert [
                (leg["from_location"], leg["to_location"], leg["travel_seconds"])
                for leg in body["legs"]
            ] == [(leg.from_location, leg.to_location, leg.travel_seconds) for leg in truth.legs]


async def test_another_carriers_consignment_answers_like_an_unknown_one(
    stack: Stack, replayed: dict[str, Any], simulated: SimulationResult
) -> None:
    foreign = next(c for c in simulated.truth.consignments.values() if c.carrier_id != CARRIER_A)
    headers = {"Authorization": f"Bearer {stack.keys['carrier_a']}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as client:
        theirs = await client.get(f"/v1/consignments/{foreign.consignment_id}")
        unknown = await client.get("/v1/consignments/MC-0000-NOSUCH")
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.headers["content-type"] == unknown.headers["content-type"]
    assert _without_detail(theirs.json()) == _without_detail(unknown.json())
    # The detail may echo the id that was asked for, and nothing else differs.
    assert theirs.text.replace(foreign.consignment_id, "ID") == unknown.text.replace(
        "MC-0000-NOSUCH", "ID"
    )


def _without_detail(problem: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in problem.items() if k not in ("detail", "instance")}


async def test_operators_see_location_dwell_as_computed_from_the_truth(
    stack: Stack, replayed: dict[str, Any], simulated: SimulationResult
) -> None:
    dwell: dict[str, list[int]] = defaultdict(list)
    for consignment in simulated.truth.consignments.values():
        for stay in consignment.stays:
            if stay.status.value == "completed" and stay.dwell_seconds is not None:
                dwell[stay.location].append(stay.dwell_seconds)
    busiest = max(dwell, key=lambda location: len(dwell[location]))
    headers = {"Authorization": f"Bearer {stack.keys['operator']}"}
    params = {
        "from": _iso(simulated.truth.start),
        "to": _iso(simulated.truth.end),
        "location": busiest,
        "bucket": "week",
    }
    async with httpx.AsyncClient(base_url=stack.api_url, headers=headers) as client:
        response = await client.get("/v1/performance/locations", params=params)
    assert response.status_code == 200, response.text
    buckets = response.json()["items"]
    assert sum(b["completed_count"] for b in buckets) == len(dwell[busiest])
    # Weekly buckets by arrival: recompute each week's median from the truth.
    by_week: dict[str, list[int]] = defaultdict(list)
    for consignment in simulated.truth.consignments.values():
        for stay in consignment.stays:
            if stay.location == busiest and stay.status.value == "completed":
                monday = stay.arrived_at.date().toordinal() - stay.arrived_at.weekday()
                by_week[datetime.fromordinal(monday).date().isoformat()].append(
                    stay.dwell_seconds or 0
                )
    assert buckets
    for bucket in buckets:
        week = bucket["bucket_start"][:10]
        assert bucket["completed_count"] == len(by_week[week])
        if by_week[week]:
            assert bucket["dwell"]["median_seconds"] == pytest.approx(
                percentile(by_week[week], 0.5)
            )
            assert bucket["dwell"]["p90_seconds"] == pytest.approx(percentile(by_week[week], 0.9))


async def test_a_publisher_cannot_publish_for_another_location(
    stack: Stack, replayed: dict[str, Any], simulated: SimulationResult
) -> None:
    foreign_event = next(
        d.event for d in simulate(CONFIG).deliveries if d.event.location != "KZ-NUR-ZHOLY"
    )
    async with httpx.AsyncClient(base_url=stack.ingest_url) as client:
        response = await client.post(
            "/v1/events",
            content=foreign_event.model_dump_json(),
            headers={
                "Authorization": f"Bearer {stack.keys['nur_zholy']}",
                "Content-Type": "application/json",
            },
        )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
