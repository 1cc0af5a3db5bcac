"""The Kafka broker stopped and restarted while border systems keep posting to ingest.

A dedicated broker (its own ports and data; never the session's) serves a real ingest
process and a real tracker worker, which write into a fresh database. Every event that
got a 2xx must end up in the database, no event that got a 503 may, and once the
refused batches are re-sent the database must equal the simulator's ground truth.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
import pytest_asyncio

from corridor.reference import load_reference
from infra.kafka.broker import KafkaBroker
from infra.kafka.broker_config import REPO_ROOT, BrokerConfig, BrokerPortTakenError
from infra.kafka.topics import ensure_topics, topic_specs
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import Delivery, FaultRates, SimulationConfig, simulate
from storage.db import create_pool
from tests.integration.tracker_harness import (
    TrackerWorkers,
    first_difference,
    free_port,
    free_port_run,
    truth_snapshot,
    wait_until_converged,
)

CONFIG = SimulationConfig(
    seed=41, consignments=40, days=20, faults=FaultRates(duplicate=0.03, out_of_order=0.03)
)
BATCH = 50
PUBLISH_TIMEOUT_SECONDS = 3


@pytest_asyncio.fixture(loop_scope="session")
async def broker() -> AsyncIterator[KafkaBroker]:
    for _ in range(5):
        # Free ports of its own, so that two checkouts' suites never meet here.
        port = free_port_run(2, start=29300)
        dedicated = KafkaBroker(
            BrokerConfig(
                port=port,
                controller_port=port + 1,
                run_dir=REPO_ROOT / ".run" / f"kafka-reliability-test-{port}",
            )
        )
        await dedicated.start(fresh_data=True)
        try:
            await dedicated.wait_healthy(timeout=120)
            break
        except BrokerPortTakenError:  # bound by another server between check and bind
            dedicated.stop()
    else:
        raise AssertionError("no free ports for the outage broker")
    try:
        yield dedicated
    finally:
        dedicated.stop()
        shutil.rmtree(dedicated.config.run_dir, ignore_errors=True)


@pytest.fixture
def ingest_port() -> int:
    return free_port()


@pytest.fixture
def ingest(
    broker: KafkaBroker, fresh_database_url: str, ingest_port: int, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": "reliability.",
        "DATABASE_URL": fresh_database_url,
        "INGEST_PORT": str(ingest_port),
        "INGEST_PUBLISH_TIMEOUT_SECONDS": str(PUBLISH_TIMEOUT_SECONDS),
        "INGEST_RETRY_AFTER_SECONDS": "1",
    }
    with (tmp_path / "ingest.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.ingest"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with httpx.AsyncClient(timeout=2) as client:
        for _ in range(240):
            assert process.poll() is None, _tail(log)
            try:
                if (await client.get(f"{url}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never became ready:\n{_tail(log)}")


def _stored_ids(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT DISTINCT event_id::text FROM transit_events").fetchall()
    return {row[0] for row in rows}


async def _wait_for_ids(database_url: str, wanted: int, tracker: TrackerWorkers) -> set[str]:
    deadline = time.monotonic() + 180
    stored: set[str] = set()
    while time.monotonic() < deadline:
        stored = await asyncio.to_thread(_stored_ids, database_url)
        if len(stored) >= wanted:
            return stored
        assert tracker.alive(), f"the tracker died:\n{tracker.logs()}"
        await asyncio.sleep(0.5)
    return stored


def _body(batch: list[Delivery]) -> str:
    return "[" + ",".join(delivery.json() for delivery in batch) + "]"


def _ids(batch: list[Delivery]) -> set[str]:
    return {str(delivery.event.event_id) for delivery in batch}


@pytest.mark.timeout(540)
async def test_broker_restart_during_ingest_loses_and_invents_nothing(
    broker: KafkaBroker,
    ingest: subprocess.Popen[bytes],
    ingest_port: int,
    fresh_database_url: str,
    tmp_path: Path,
) -> None:
    await ensure_topics(broker.bootstrap_servers, topic_specs("reliability."))
    everywhere = tuple(location.code for location in load_reference().locations)
    async with create_pool(fresh_database_url, min_size=1, max_size=1) as pool:
        _, key = await issue_key(pool, Role.PUBLISHER, "reliability", everywhere)
    url = f"http://127.0.0.1:{ingest_port}"
    await _wait_ready(url, ingest, tmp_path / "ingest.log")
    tracker = TrackerWorkers(
        broker.bootstrap_servers,
        "reliability.",
        fresh_database_url,
        tmp_path / "tracker",
        app_id=f"tracker-reliability-{uuid.uuid4().hex[:6]}",
    )
    result = simulate(CONFIG)
    deliveries = list(result.deliveries)
    batches = [deliveries[i : i + BATCH] for i in range(0, len(deliveries), BATCH)]
    first, during, after = batches[:10], batches[10:13], batches[13:]
    acknowledged: set[str] = set()
    refused: set[str] = set()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        tracker.start()
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            for batch in first:
                response = await client.post("/v1/events", content=_body(batch))
                assert response.status_code in (200, 202), response.text
                acknowledged |= _ids(batch)

            # The tracker is running and caught up before the broker goes away.
            await _wait_for_ids(fresh_database_url, len(acknowledged), tracker)
            await asyncio.to_thread(broker.stop)
            for batch in during:
                response = await client.post("/v1/events", content=_body(batch))
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                assert response.headers["content-type"] == "application/problem+json"
                refused |= _ids(batch)
            assert (await client.get("/readyz")).status_code == 503
            assert (await client.get("/healthz")).status_code == 200

            await broker.start()
            await broker.wait_healthy(timeout=120)
            for batch in after:
                assert await _post_until_accepted(client, batch), "ingest never recovered"
                acknowledged |= _ids(batch)

            # Every 2xx is in the database; what got a 503 (and was not re-sent) is not.
            only_refused = refused - acknowledged
            assert only_refused
            stored = await _wait_for_ids(fresh_database_url, len(acknowledged), tracker)
            await asyncio.sleep(2.0)  # anything extra would have arrived by now
            stored = await asyncio.to_thread(_stored_ids, fresh_database_url)
            assert stored == acknowledged, tracker.logs()
            assert not stored & only_refused

            # The client re-sends what was refused: the database equals the truth.
            for batch in during:
                assert await _post_until_accepted(client, batch)
        expected = truth_snapshot(result.truth)
        distinct = len({str(d.event.event_id) for d in deliveries})
        snapshot = await wait_until_converged(tracker, expected, distinct, within_seconds=180)
        for key_ in ("states", "stays", "crossings", "legs"):
            assert snapshot[key_] == expected[key_], (
                f"{key_}: {first_difference(snapshot[key_], expected[key_])}\n{tracker.logs()}"
            )
        versions = {(str(d.event.event_id), d.event.occurred_at) for d in deliveries}
        assert snapshot["raw_events"] == (len(versions), distinct)
        assert ingest.poll() is None
        assert tracker.alive()
    finally:
        tracker.stop_all()


async def _post_until_accepted(client: httpx.AsyncClient, batch: list[Delivery]) -> bool:
    """Post like a well-behaved client: honour 503 + Retry-After, for at most a minute."""
    for _ in range(60):
        response = await client.post("/v1/events", content=_body(batch))
        if response.status_code in (200, 202):
            return True
        assert response.status_code == 503, response.text
        await asyncio.sleep(float(response.headers["retry-after"]))
    return False
