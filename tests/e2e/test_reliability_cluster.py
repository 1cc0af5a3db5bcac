"""Brokers of a 3-node Kafka cluster SIGKILLed while border systems post and the tracker works.

A dedicated cluster (its own ports and files; never the session's broker) with the
project's topics at replication factor 3 and ``min.insync.replicas=2`` serves a real
ingest process and a real tracker worker writing into a fresh database. Judged against
the simulator's ground truth: every event that got a 2xx is stored, nothing is stored
twice, none of the events refused while only one broker was left is stored, and after
the client's re-sends the database equals the truth, with the same tracker process.

Run alone with ``pytest -m cluster``.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from corridor.reference import load_reference
from infra.kafka.broker_config import REPO_ROOT, BrokerConfig
from infra.kafka.cluster import KafkaCluster
from infra.kafka.topics import ensure_topics, topic_specs
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import Delivery, FaultRates, SimulationConfig, simulate
from storage.db import create_pool
from tests.e2e.test_reliability_broker import _body, _ids, _stored_ids, _wait_ready
from tests.e2e.test_reliability_postgres import (
    api_process,
    assert_postgres_restart_is_waited_out,
    dedicated_postgres,
)
from tests.integration.tracker_harness import (
    TrackerWorkers,
    first_difference,
    free_port,
    free_port_run,
    produce,
    stored_event_count,
    truth_snapshot,
    wait_until_converged,
)

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

PREFIX = "cluster."
CONFIG = SimulationConfig(
    seed=43, consignments=40, days=20, faults=FaultRates(duplicate=0.03, out_of_order=0.03)
)
BATCH = 50
PUBLISH_TIMEOUT_SECONDS = 4


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cluster() -> AsyncIterator[KafkaCluster]:
    first = free_port_run(6, start=29400)
    base = BrokerConfig(
        port=first,
        controller_port=first + 1,
        run_dir=REPO_ROOT / ".run" / f"kafka-cluster-test-{first}",
    )
    dedicated = KafkaCluster(base, brokers=3)
    await dedicated.start(fresh_data=True)
    try:
        await dedicated.wait_healthy(timeout=180)
        yield dedicated
    finally:
        for node in dedicated.nodes:
            node.kill()  # test data is worthless; no controlled shutdown to wait for


class ClusterTracker(TrackerWorkers):
    def env(self, index: int) -> dict[str, str]:
        return {**super().env(index), "KAFKA_REPLICATION_FACTOR": "3"}


class PatientClusterTracker(ClusterTracker):
    """Retries the database every second at most (default 30 s)."""

    def env(self, index: int) -> dict[str, str]:
        return {**super().env(index), "TRACKER_DB_RETRY_MAX_SECONDS": "1"}


@pytest.fixture
def ingest(
    cluster: KafkaCluster, fresh_database_url: str, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "KAFKA_TOPIC_PREFIX": PREFIX,
        "DATABASE_URL": fresh_database_url,
        "INGEST_PORT": str(port),
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
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _events_leader(cluster: KafkaCluster) -> int:
    """The node leading the most partitions of the events topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        [topic] = await admin.describe_topics([f"{PREFIX}transit-events"])
    finally:
        await admin.close()
    leaders: list[int] = [partition["leader"] for partition in topic["partitions"]]
    return max(set(leaders), key=leaders.count)


async def _coordinator(cluster: KafkaCluster, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap_servers)
    await admin.start()
    try:
        coordinator: int = await admin.find_coordinator(group)
        return coordinator
    finally:
        await admin.close()


async def _post_until_accepted(
    client: httpx.AsyncClient, batch: list[Delivery], within_seconds: float = 120
) -> int:
    """Post like a well-behaved client, honouring 503 + Retry-After; the 503s it got."""
    refusals = 0
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        response = await client.post("/v1/events", content=_body(batch))
        if response.status_code in (200, 202):
            return refusals
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        refusals += 1
        await asyncio.sleep(float(response.headers["retry-after"]))
    raise AssertionError(f"ingest never accepted a batch within {within_seconds:g}s")


async def _wait_for_stored(database_url: str, wanted: set[str], tracker: TrackerWorkers) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if wanted <= await asyncio.to_thread(_stored_ids, database_url):
            return
        assert tracker.alive(), f"the tracker died:\n{tracker.logs()}"
        await asyncio.sleep(0.5)
    raise AssertionError(f"the tracker did not store the accepted events:\n{tracker.logs()}")


async def test_brokers_killed_during_ingest_and_tracking_lose_and_invent_nothing(
    cluster: KafkaCluster,
    ingest: tuple[subprocess.Popen[bytes], str],
    fresh_database_url: str,
    tmp_path: Path,
) -> None:
    process, url = ingest
    await ensure_topics(
        cluster.bootstrap_servers, topic_specs(PREFIX), replication_factor=3, min_insync_replicas=2
    )
    everywhere = tuple(location.code for location in load_reference().locations)
    async with create_pool(fresh_database_url, min_size=1, max_size=1) as pool:
        _, key = await issue_key(pool, Role.PUBLISHER, "cluster reliability", everywhere)
    await _wait_ready(url, process, tmp_path / "ingest.log")
    tracker = ClusterTracker(
        cluster.bootstrap_servers,
        PREFIX,
        fresh_database_url,
        tmp_path / "tracker",
        app_id=f"tracker-cluster-{uuid.uuid4().hex[:6]}",
    )
    result = simulate(CONFIG)
    deliveries = list(result.deliveries)
    batches = [deliveries[i : i + BATCH] for i in range(0, len(deliveries), BATCH)]
    assert len(batches) >= 16
    acknowledged: set[str] = set()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    try:
        tracker.start()
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
            for batch in batches[:4]:
                assert await _post_until_accepted(client, batch) == 0
                acknowledged |= _ids(batch)
            await _wait_for_stored(fresh_database_url, acknowledged, tracker)

            # 1. The leader of the events partitions crashes during ingest: the other two
            # take over; a client that honours Retry-After gets every batch accepted.
            leader = await _events_leader(cluster)
            await asyncio.to_thread(cluster.node(leader).kill)
            for batch in batches[4:7]:
                await _post_until_accepted(client, batch)
                acknowledged |= _ids(batch)
            await _wait_for_stored(fresh_database_url, acknowledged, tracker)

            # 2. It comes back; then the group coordinator crashes while the tracker works.
            await cluster.node(leader).start()
            await cluster.wait_healthy(timeout=180)
            coordinator = await _coordinator(cluster, tracker.app_id)
            for batch in batches[7:9]:
                await _post_until_accepted(client, batch)
                acknowledged |= _ids(batch)
            await asyncio.to_thread(cluster.node(coordinator).kill)
            for batch in batches[9:11]:
                await _post_until_accepted(client, batch)
                acknowledged |= _ids(batch)
            await _wait_for_stored(fresh_database_url, acknowledged, tracker)

            # 3. A second broker down: one replica left, fewer than min.insync.replicas.
            # Ingest refuses with 503 + Retry-After and nothing of those batches is stored.
            survivors = [n.config.node_id for n in cluster.nodes if n.is_running()]
            assert len(survivors) == 2
            await asyncio.to_thread(cluster.node(survivors[0]).kill)
            refused: set[str] = set()
            for batch in batches[11:13]:
                response = await client.post("/v1/events", content=_body(batch))
                assert response.status_code == 503, response.text
                assert response.headers["retry-after"] == "1"
                refused |= _ids(batch)
            await asyncio.sleep(3.0)  # a refused event would have reached the tracker by now
            stored = await asyncio.to_thread(_stored_ids, fresh_database_url)
            assert not stored & (refused - acknowledged)
            assert acknowledged <= stored

            # 4. Both come back; the same ingest and tracker processes carry on, and the
            # client re-sends what was refused along with the rest.
            for node_id in (coordinator, survivors[0]):
                await cluster.node(node_id).start()
            await cluster.wait_healthy(timeout=180)
            for batch in batches[11:]:
                await _post_until_accepted(client, batch)
                acknowledged |= _ids(batch)

        expected = truth_snapshot(result.truth)
        distinct = len({str(d.event.event_id) for d in deliveries})
        assert acknowledged == {str(d.event.event_id) for d in deliveries}
        snapshot = await wait_until_converged(tracker, expected, distinct, within_seconds=240)
        for part in ("states", "stays", "crossings", "legs"):
            assert snapshot[part] == expected[part], (
                f"{part}: {first_difference(snapshot[part], expected[part])}\n{tracker.logs()}"
            )
        versions = {(str(d.event.event_id), d.event.occurred_at) for d in deliveries}
        assert snapshot["raw_events"] == (len(versions), distinct)  # none lost, none twice
        assert process.poll() is None
        assert tracker.alive(), tracker.logs()
    finally:
        tracker.stop_all()


async def test_a_worker_killed_mid_replay_hands_its_partitions_to_the_other(
    cluster: KafkaCluster, fresh_database_url: str, tmp_path: Path
) -> None:
    prefix = f"cluster{uuid.uuid4().hex[:6]}."
    await ensure_topics(
        cluster.bootstrap_servers, topic_specs(prefix), replication_factor=3, min_insync_replicas=2
    )
    result = simulate(SimulationConfig(seed=47, consignments=120, days=20))
    events = [delivery.event for delivery in result.deliveries]
    half = len(events) // 2
    topic = f"{prefix}transit-events"
    workers = ClusterTracker(
        cluster.bootstrap_servers,
        prefix,
        fresh_database_url,
        tmp_path / "tracker",
        app_id=f"tracker-failover-{uuid.uuid4().hex[:6]}",
    )
    distinct = len({event.event_id for event in events})
    first_half = len({event.event_id for event in events[:half]})
    try:
        workers.start(0)
        workers.start(1)
        await produce(cluster.bootstrap_servers, topic, events[:half])
        deadline = time.monotonic() + 180
        while await asyncio.to_thread(stored_event_count, fresh_database_url) < first_half:
            assert workers.alive(), workers.logs()
            assert time.monotonic() < deadline, f"first half never stored:\n{workers.logs()}"
            await asyncio.sleep(0.5)
        # Mid-replay: worker 1 dies holding its partitions; the second half lands on all six,
        # so worker 0 must take worker 1's partitions over to store it.
        workers.kill(1)
        await produce(cluster.bootstrap_servers, topic, events[half:])

        expected = truth_snapshot(result.truth)
        snapshot = await wait_until_converged(workers, expected, distinct, within_seconds=240)
        for part in ("states", "stays", "crossings", "legs"):
            assert snapshot[part] == expected[part], (
                f"{part}: {first_difference(snapshot[part], expected[part])}\n{workers.logs()}"
            )
        versions = {(str(event.event_id), event.occurred_at) for event in events}
        assert snapshot["raw_events"] == (len(versions), distinct)
        assert workers.alive(), workers.logs()
    finally:
        workers.stop_all()


async def test_postgres_restarted_while_the_cluster_runs_is_waited_out(
    cluster: KafkaCluster, tmp_path: Path
) -> None:
    prefix = f"clusterpg{uuid.uuid4().hex[:6]}."
    await ensure_topics(
        cluster.bootstrap_servers, topic_specs(prefix), replication_factor=3, min_insync_replicas=2
    )
    with dedicated_postgres() as postgres, api_process(postgres, tmp_path) as api:
        await assert_postgres_restart_is_waited_out(
            postgres, api, cluster.bootstrap_servers, prefix, tmp_path, PatientClusterTracker
        )
