"""faust-streaming (on aiokafka) works against the harness broker's Kafka version.

The faust app runs inside the test's event loop (``await app.start()``), not as a ``faust
worker`` subprocess: it exercises the same client paths (consumer group join, topic creation
for the table's changelog, fetching, offset commits, producing changelog records) without a
second Python start-up, and its table can be read directly.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import faust
import pytest
from aiokafka import AIOKafkaProducer
from faust.types import TableT

from infra.kafka.topics import TopicSpec, ensure_topics
from tests.fixtures.kafka import running

pytest_plugins = ["tests.fixtures.kafka"]

pytestmark = pytest.mark.integration

SOURCE_PARTITIONS = 3
TABLE_SETTLE_TIMEOUT_S = 30.0


async def test_faust_agent_updates_table_from_topic(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    # App id and topic start with the run's prefix, so the faust-created changelog and
    # assignor topics are cleaned up with the rest of this run's topics.
    run = uuid.uuid4().hex[:8]
    source_topic = f"{topic_prefix}faust-compat.{run}.legs"
    await ensure_topics(kafka_bootstrap, [TopicSpec(source_topic, SOURCE_PARTITIONS)])

    app = faust.App(
        f"{topic_prefix}faust-compat.{run}",
        broker=f"kafka://{kafka_bootstrap}",
        store="memory://",
        # The table's changelog must be co-partitioned with the topic the agent consumes.
        topic_partitions=SOURCE_PARTITIONS,
        topic_replication_factor=1,
        web_enabled=False,
        datadir=str(tmp_path),  # not the working directory (the checkout)
    )
    legs = app.topic(source_topic, key_type=str, value_serializer="json")
    km_per_consignment = app.Table("km-per-consignment", default=int)

    @app.agent(legs)
    async def add_leg_distance(stream: faust.StreamT[int]) -> None:
        async for consignment_id, km in stream.items():
            km_per_consignment[consignment_id] += km

    produced = [("CONS-1", 3765), ("CONS-2", 500), ("CONS-1", 286), ("CONS-3", 1), ("CONS-1", 2)]
    expected = {"CONS-1": 3765 + 286 + 2, "CONS-2": 500, "CONS-3": 1}

    async with running(app):
        producer = AIOKafkaProducer(
            bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
        )
        await producer.start()
        try:
            for consignment_id, km in produced:
                await producer.send_and_wait(
                    source_topic, key=consignment_id.encode(), value=str(km).encode()
                )
        finally:
            await producer.stop()

        totals = await _wait_for_table(km_per_consignment, expected)

    assert totals == expected


async def _wait_for_table(table: TableT[str, int], expected: dict[str, int]) -> dict[str, int]:
    totals: dict[str, int] = {}
    try:
        async with asyncio.timeout(TABLE_SETTLE_TIMEOUT_S):
            while totals != expected:
                await asyncio.sleep(0.1)
                totals = dict(table.items())
    except TimeoutError:
        pytest.fail(f"table still {totals} after {TABLE_SETTLE_TIMEOUT_S}s, expected {expected}")
    return totals
