"""The hostile-input corpus against the real ingest and API processes.

Each case must be answered with exactly the status and problem type the corpus names,
as `application/problem+json` (or a 200 with no items for a search that finds nothing);
the service must stay alive and ready; and the events topic must not grow: nothing a
hostile request carries is published, so nothing can be stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import psycopg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition

from infra.kafka.topics import topic_specs
from tests.e2e.conftest import Stack
from tests.e2e.hostile_corpus import EMPTY, KNOWN_DEFECTS, UNBOUNDED, Case, corpus

CORPUS = corpus()


def _param(case: Case) -> object:
    if case.id in UNBOUNDED:
        return pytest.param(
            case, id=case.id, marks=pytest.mark.xfail(run=False, reason=UNBOUNDED[case.id])
        )
    if case.id in KNOWN_DEFECTS:
        return pytest.param(
            case, id=case.id, marks=pytest.mark.xfail(strict=True, reason=KNOWN_DEFECTS[case.id])
        )
    return pytest.param(case, id=case.id)


class Watch:
    """The service clients and the events topic's end offsets, shared by the module."""

    def __init__(self, stack: Stack, consumer: AIOKafkaConsumer) -> None:
        self.stack = stack
        self.consumer = consumer
        [spec] = [s for s in topic_specs(stack.topic_prefix) if s.name.endswith("transit-events")]
        self.partitions = [TopicPartition(spec.name, p) for p in range(spec.partitions)]
        self.clients: dict[str, httpx.AsyncClient] = {}
        self.offsets: dict[TopicPartition, int] = {}
        self.stored = 0

    async def end_offsets(self) -> dict[TopicPartition, int]:
        offsets: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        return offsets


def _stored(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM transit_events").fetchone()
    return int(row[0]) if row else 0


async def _settled_count(database_url: str) -> int:
    """The stored-event count once the tracker has finished earlier tests' work."""
    last = -1
    for _ in range(60):
        count = await asyncio.to_thread(_stored, database_url)
        if count == last:
            return count
        last = count
        await asyncio.sleep(1.0)
    raise AssertionError("the tracker never settled before the hostile corpus")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def watch(stack: Stack, kafka_bootstrap: str) -> AsyncIterator[Watch]:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        watched = Watch(stack, consumer)
        watched.offsets = await watched.end_offsets()
        watched.stored = await _settled_count(stack.database_url)
        async with (
            httpx.AsyncClient(base_url=stack.ingest_url, timeout=60) as ingest,
            httpx.AsyncClient(base_url=stack.api_url, timeout=60) as api,
        ):
            watched.clients = {"ingest": ingest, "api": api}
            yield watched
    finally:
        await consumer.stop()


def _key(stack: Stack, case: Case) -> str:
    return stack.keys["publisher" if case.service == "ingest" else "operator"]


async def _send(watch: Watch, case: Case) -> httpx.Response:
    client = watch.clients[case.service]
    headers = {"Authorization": f"Bearer {_key(watch.stack, case)}"}
    if case.service == "api":
        return await client.get(case.path, params=case.params, headers=headers)
    headers["Content-Type"] = case.content_type
    body = case.body or b""
    if case.chunked:

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 64 * 1024):
                yield body[start : start + 64 * 1024]

        return await client.post(case.path, params=case.params, headers=headers, content=chunks())
    return await client.post(case.path, params=case.params, headers=headers, content=body)


@pytest.mark.parametrize("case", [_param(case) for case in CORPUS])
async def test_hostile_input_is_refused_and_leaves_no_trace(watch: Watch, case: Case) -> None:
    before = await watch.end_offsets()
    response = await _send(watch, case)
    assert response.status_code == case.status, response.text[:500]
    if case.problem == EMPTY:
        assert response.headers["content-type"] == "application/json"
        assert response.json()["items"] == []
    else:
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert (problem["type"], problem["status"]) == (case.problem, case.status), problem
    client = watch.clients[case.service]
    for probe in ("/healthz", "/readyz"):
        assert (await client.get(probe)).status_code == 200, f"{case.service} {probe}"
    assert await watch.end_offsets() == before, "something was published"


async def test_after_the_corpus_nothing_was_stored(watch: Watch) -> None:
    assert await watch.end_offsets() == watch.offsets
    await asyncio.sleep(2.0)  # a tracker batch window, should anything have slipped through
    assert await asyncio.to_thread(_stored, watch.stack.database_url) == watch.stored


def test_the_corpus_is_large_and_covers_every_endpoint() -> None:
    ingest = [case for case in CORPUS if case.service == "ingest"]
    assert len([case for case in ingest if case.id not in UNBOUNDED]) >= 200
    assert {case.path for case in ingest} == {
        "/v1/events",
        "/v1/messages/ncts",
        "/v1/messages/etir",
        "/v1/messages/epermit",
    }
    assert {case.path for case in CORPUS if case.service == "api" and "{" not in case.path} >= {
        "/v1/consignments",
        "/v1/alerts",
        "/v1/performance/locations",
        "/v1/performance/crossings",
        "/v1/performance/legs",
    }
