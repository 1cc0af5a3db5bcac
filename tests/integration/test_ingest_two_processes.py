"""Two ingest processes behind one address: a re-send answered by the other process.

A client that gets no answer (a timeout, a dropped connection) re-sends, and a load
balancer may hand the re-send to another ingest process. That process must report the
events the first one accepted as duplicates and publish nothing, and a conflicting
version (same id, other content) must still be accepted and flagged.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from corridor.reference import load_reference
from infra.kafka.topics import ensure_topics, topic_specs
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import SimulationConfig, simulate
from storage.db import create_pool
from tests.integration.tracker_harness import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


class IngestProcesses:
    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.urls: list[str] = []
        self._processes: list[subprocess.Popen[bytes]] = []
        self._env = env
        self._log_dir = log_dir

    def start(self, count: int) -> None:
        for index in range(count):
            port = free_port()
            with (self._log_dir / f"ingest-{index}.log").open("ab") as log:
                self._processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.ingest"],
                        cwd=REPO_ROOT,
                        env={**self._env, "INGEST_PORT": str(port)},
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
            self.urls.append(f"http://127.0.0.1:{port}")

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient(timeout=2) as client:
            for url, process in zip(self.urls, self._processes, strict=True):
                for _ in range(480):
                    assert process.poll() is None, self.logs()
                    try:
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.25)
                else:
                    raise AssertionError(f"{url} never became ready:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in self._log_dir.glob("*.log"))

    def stop(self) -> None:
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def ingest_env(kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": f"{topic_prefix}two{uuid.uuid4().hex[:6]}.",
        "DATABASE_URL": fresh_database_url,
    }


@pytest.fixture
def two_ingests(ingest_env: dict[str, str], tmp_path: Path) -> Iterator[IngestProcesses]:
    processes = IngestProcesses(ingest_env, tmp_path)
    processes.start(2)
    try:
        yield processes
    finally:
        processes.stop()


async def _published(bootstrap: str, prefix: str) -> int:
    """How many records the events topic holds."""
    [spec] = [s for s in topic_specs(prefix) if s.name.endswith("transit-events")]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return sum(ends.values())
    finally:
        await consumer.stop()


def _statuses(response: httpx.Response) -> list[Any]:
    assert response.status_code in (200, 202), response.text
    return [
        (item["status"], item.get("conflicts_with_earlier")) for item in response.json()["results"]
    ]


@pytest.mark.timeout(300)
async def test_a_resend_answered_by_another_process_is_a_duplicate(
    two_ingests: IngestProcesses, ingest_env: dict[str, str], fresh_database_url: str
) -> None:
    prefix = ingest_env["KAFKA_TOPIC_PREFIX"]
    bootstrap = ingest_env["KAFKA_BOOTSTRAP_SERVERS"]
    await ensure_topics(bootstrap, topic_specs(prefix))
    everywhere = tuple(location.code for location in load_reference().locations)
    async with create_pool(fresh_database_url, min_size=1, max_size=1) as pool:
        _, key = await issue_key(pool, Role.PUBLISHER, "two processes", everywhere)
    await two_ingests.wait_ready()
    first, second = two_ingests.urls
    deliveries = list(simulate(SimulationConfig(seed=5, consignments=3, days=5)).deliveries)[:6]
    batch = "[" + ",".join(d.json() for d in deliveries) + "]"
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async with httpx.AsyncClient(headers=headers, timeout=30) as client:
        accepted = _statuses(await client.post(f"{first}/v1/events", content=batch))
        assert accepted == [("accepted", False)] * 6
        published = await _published(bootstrap, prefix)
        assert published == 6

        resent = _statuses(await client.post(f"{second}/v1/events", content=batch))
        assert resent == [("duplicate", False)] * 6, two_ingests.logs()
        assert await _published(bootstrap, prefix) == published  # nothing published again

        # Another version of an event the first process accepted: accepted, and flagged.
        changed = json.loads(deliveries[0].json())
        changed["occurred_at"] = (
            deliveries[0].event.occurred_at + timedelta(minutes=1)
        ).isoformat()
        conflicting = _statuses(
            await client.post(f"{second}/v1/events", content=json.dumps([changed]))
        )
        assert conflicting == [("accepted", True)]
        assert await _published(bootstrap, prefix) == published + 1
