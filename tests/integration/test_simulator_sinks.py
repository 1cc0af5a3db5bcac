"""The Kafka sink against the real harness broker: CloudEvents records, keyed, in order."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer

from corridor.cloudevents import from_kafka_record
from simulator import KafkaSink, SimulationConfig, replay, simulate
from simulator.sinks import kafka_producer

pytest_plugins = ["tests.fixtures.kafka"]

pytestmark = pytest.mark.integration


async def test_kafka_sink_produces_every_event_keyed_by_consignment(
    kafka_bootstrap: str, kafka_topics: dict[str, str]
) -> None:
    topic = kafka_topics["transit-events"]
    deliveries = list(simulate(SimulationConfig(seed=31, consignments=12, days=10)).deliveries)
    sent_order: dict[str, list[str]] = defaultdict(list)
    for delivery in deliveries:
        sent_order[delivery.consignment_id].append(str(delivery.event.event_id))

    stats = await replay(
        deliveries, KafkaSink(kafka_producer(kafka_bootstrap), topic), batch_size=100
    )
    assert stats.accepted == len(deliveries)

    wanted = {str(d.event.event_id) for d in deliveries}
    received: dict[str, list[str]] = defaultdict(list)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while sum(len(ids) for ids in received.values()) < len(wanted):
                record = await consumer.getone()
                # The session's topic is shared with other tests: look only at ours.
                if dict(record.headers).get("ce_id", b"").decode() not in wanted:
                    continue
                event = from_kafka_record(record.key, record.value, list(record.headers))
                if str(event.event_id) in wanted:
                    assert record.key == event.consignment_id.encode()
                    received[event.consignment_id].append(str(event.event_id))
    finally:
        await consumer.stop()

    # One consignment, one partition: its events come back in the order they were sent.
    assert received == sent_order
