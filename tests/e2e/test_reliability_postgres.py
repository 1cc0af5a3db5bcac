"""PostgreSQL restarted while the tracker works: the tracker waits, then catches up.

The database is a dedicated cluster (its own name, free port and data), so restarting it never
disturbs the session's shared test cluster. Events keep arriving on Kafka during the
outage; the same worker process (never restarted) must end with the database equal to the
simulator's ground truth, with no duplicated rows. The API on the same cluster reports
not-ready during the outage and ready again after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.kafka.topics import ensure_topics, topic_specs
from infra.postgres.cluster import REPO_ROOT, PostgresCluster
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import FaultRates, SimulationConfig, simulate
from storage.db import create_pool
from storage.migrate import migrate
from tests.fixtures.postgres import scratch_cluster
from tests.integration.tracker_harness import (
    TrackerWorkers,
    first_difference,
    free_port,
    produce,
    stored_event_count,
    truth_snapshot,
    wait_until_converged,
)

CONFIG = SimulationConfig(
    seed=43, consignments=80, days=20, faults=FaultRates(duplicate=0.03, late=0.02)
)
OUTAGE_SECONDS = 8.0


@contextlib.contextmanager
def dedicated_postgres() -> Iterator[PostgresCluster]:
    """A migrated `corridor` database on a cluster of its own (a free port of its own, so
    that two checkouts' suites never meet here)."""
    with scratch_cluster("reliability") as dedicated:
        dedicated.start()
        dedicated.wait_ready(timeout=60)
        dedicated.create_database("corridor")
        migrate(dedicated.dsn("corridor"))
        yield dedicated


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    with dedicated_postgres() as dedicated:
        yield dedicated


class PatientWorkers(TrackerWorkers):
    """Tracker workers that retry the database every second at most (default 30 s)."""

    def env(self, index: int) -> dict[str, str]:
        return {**super().env(index), "TRACKER_DB_RETRY_MAX_SECONDS": "1"}


@pytest.fixture
def api(cluster: PostgresCluster, tmp_path: Path) -> Iterator[str]:
    with api_process(cluster, tmp_path) as url:
        yield url


@contextlib.contextmanager
def api_process(cluster: PostgresCluster, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with (tmp_path / "api.log").open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.api"],
            cwd=REPO_ROOT,
            env={**os.environ, "DATABASE_URL": cluster.dsn("corridor"), "API_PORT": str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _readiness(url: str) -> int:
    async with httpx.AsyncClient(timeout=5) as client:
        for _ in range(120):
            try:
                return (await client.get(f"{url}/readyz")).status_code
            except httpx.TransportError:
                await asyncio.sleep(0.5)
    raise AssertionError(f"{url} never answered")


async def _wait_until(predicate_count: int, workers: TrackerWorkers) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if await asyncio.to_thread(stored_event_count, workers.database_url) >= predicate_count:
            return
        assert workers.alive(), workers.logs()
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {predicate_count} events stored:\n{workers.logs()}")


@pytest.mark.timeout(400)
async def test_postgres_restart_during_tracking_is_waited_out(
    cluster: PostgresCluster, api: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    prefix = f"{topic_prefix}pgrestart{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    await assert_postgres_restart_is_waited_out(cluster, api, kafka_bootstrap, prefix, tmp_path)


async def assert_postgres_restart_is_waited_out(
    cluster: PostgresCluster,
    api: str,
    kafka_bootstrap: str,
    prefix: str,
    tmp_path: Path,
    workers_type: type[TrackerWorkers] | None = None,
) -> None:
    """The scenario, on topics `prefix` already created: half the events on Kafka, the
    database stopped while the worker stores them, the other half produced meanwhile,
    then started again: the same worker ends with the database equal to the truth.
    `workers_type`: a `TrackerWorkers` with settings of its own (patient ones by default)."""
    topic = f"{prefix}transit-events"
    result = simulate(CONFIG)
    events = [delivery.event for delivery in result.deliveries]
    half = len(events) // 2
    workers = (workers_type or PatientWorkers)(
        kafka_bootstrap, prefix, cluster.dsn("corridor"), tmp_path / "w"
    )
    async with create_pool(cluster.dsn("corridor"), min_size=1, max_size=1) as pool:
        _, operator = await issue_key(pool, Role.OPERATOR, "reliability operator")
    try:
        await produce(kafka_bootstrap, topic, events[:half])
        workers.start()
        await _wait_until(half // 3, workers)
        assert await _readiness(api) == 200

        await asyncio.to_thread(cluster.stop)
        await produce(kafka_bootstrap, topic, events[half:])  # work piles up meanwhile
        assert await _readiness(api) == 503
        await asyncio.sleep(OUTAGE_SECONDS)
        assert workers.alive(), f"the tracker gave up during the outage:\n{workers.logs()}"
        await asyncio.to_thread(cluster.start)

        expected = truth_snapshot(result.truth)
        distinct = len({e.event_id for e in events})
        snapshot = await wait_until_converged(workers, expected, distinct, within_seconds=180)
        for key in ("states", "stays", "crossings", "legs"):
            assert snapshot[key] == expected[key], (
                f"{key}: {first_difference(snapshot[key], expected[key])}\n{workers.logs()}"
            )
        versions = {(str(e.event_id), e.occurred_at) for e in events}
        assert snapshot["raw_events"] == (len(versions), distinct)
        assert workers.alive(), "the same worker process caught up"
        assert await _readiness(api) == 200
        async with httpx.AsyncClient(
            base_url=api, headers={"Authorization": f"Bearer {operator}"}, timeout=10
        ) as client:
            some = sorted(result.truth.consignments)[0]
            response = await client.get(f"/v1/consignments/{some}")
        assert response.status_code == 200
        assert response.json()["state"] == result.truth.consignments[some].state.value
    finally:
        workers.stop_all()
