"""The harness broker is a real Kafka that aiokafka can use, and topics-as-code is idempotent."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from infra.kafka.broker import KafkaBroker, StartOutcome
from infra.kafka.broker_config import BrokerConfig, BrokerPortTakenError, BrokerUnhealthyError
from infra.kafka.health import check_health
from infra.kafka.topics import TopicPartitionMismatchError, TopicSpec, ensure_topics, topic_specs
from tests.fixtures.kafka import TEST_BROKER_CONFIG

pytest_plugins = ["tests.fixtures.kafka"]

pytestmark = pytest.mark.integration


async def test_idempotent_produce_then_consume_keeps_key_value_and_headers(
    kafka_bootstrap: str, kafka_topics: dict[str, str]
) -> None:
    topic = kafka_topics["transit-events"]
    key = b"CONS-2024-000123"
    value = b'{"event":"departed","station":"Dostyk","at":"2024-05-01T10:00:00Z"}'
    headers = [("source", b"ktz-edi"), ("schema-version", b"1"), ("empty", b"")]

    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    # Read exactly the record we wrote (other tests of this run may share the topic).
    partition = TopicPartition(topic, sent.partition)
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        async with asyncio.timeout(15):
            received = await consumer.getone()
    finally:
        await consumer.stop()

    assert (received.key, received.value) == (key, value)
    assert list(received.headers) == headers
    assert received.offset == sent.offset


async def test_ensure_topics_twice_creates_once_and_keeps_declared_layout(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    specs = topic_specs(f"{topic_prefix}idempotence.")
    names = sorted(spec.name for spec in specs)

    first = await ensure_topics(kafka_bootstrap, specs)
    second = await ensure_topics(kafka_bootstrap, specs)

    assert sorted(first.created) == names
    assert second.created == ()
    assert sorted(second.already_present) == names

    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(names)
        compacted = next(spec.name for spec in specs if spec.name.endswith("consignment-updates"))
        compacted_config = await _topic_config(admin, compacted)
    finally:
        await admin.close()

    assert {topic["topic"]: len(topic["partitions"]) for topic in described} == {
        spec.name: spec.partitions for spec in specs
    }
    assert compacted_config["cleanup.policy"] == "compact"


async def test_ensure_topics_rejects_existing_topic_with_fewer_partitions(
    kafka_bootstrap: str, kafka_topics: dict[str, str]
) -> None:
    alerts = kafka_topics["alerts"]  # declared with 3 partitions

    with pytest.raises(TopicPartitionMismatchError, match="has 3, declared 12") as raised:
        await ensure_topics(kafka_bootstrap, [TopicSpec(alerts, partitions=12)])

    assert raised.value.shortfalls == {alerts: (3, 12)}


async def test_health_check_fails_fast_where_no_broker_listens() -> None:
    dead_port = _unused_port()
    broker = KafkaBroker(BrokerConfig(port=dead_port, controller_port=_unused_port()))

    started = time.monotonic()
    with pytest.raises(BrokerUnhealthyError):
        await check_health(f"127.0.0.1:{dead_port}", timeout=3.0)
    with pytest.raises(BrokerUnhealthyError):
        await broker.wait_healthy(timeout=2.0)

    assert time.monotonic() - started < 8.0


async def test_start_reuses_the_running_broker_instead_of_launching_another(
    kafka_bootstrap: str,
) -> None:
    if kafka_bootstrap != TEST_BROKER_CONFIG.bootstrap_servers:
        pytest.skip("the session uses an external broker, not the harness's test broker")
    second_handle = KafkaBroker(TEST_BROKER_CONFIG)

    outcome = await second_handle.start()

    assert outcome is StartOutcome.ALREADY_RUNNING
    assert second_handle.is_running()


async def test_a_port_bound_by_another_server_after_the_check_is_reported_as_taken() -> None:
    # Bound but not listening: the free-port check passes, the broker's own bind fails, as
    # when another checkout's broker binds the port between the two.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        port = squatter.getsockname()[1]
        run_dir = TEST_BROKER_CONFIG.run_dir.with_name(f"kafka-port-race-{port}")
        broker = KafkaBroker(
            BrokerConfig(port=port, controller_port=_unused_port(), run_dir=run_dir)
        )
        try:
            assert await broker.start(fresh_data=True) is StartOutcome.LAUNCHED
            with pytest.raises(BrokerPortTakenError, match="taken by another server"):
                await broker.wait_healthy(timeout=90)
        finally:
            broker.stop()
            shutil.rmtree(run_dir, ignore_errors=True)


def test_stop_is_a_no_op_when_no_broker_runs(tmp_path: Path) -> None:
    never_started = KafkaBroker(BrokerConfig(port=_unused_port(), run_dir=tmp_path))
    never_started.config.run_dir.mkdir(parents=True, exist_ok=True)
    # A pid file left behind by a crashed broker whose pid now belongs to another process.
    never_started.config.pid_file.write_text(f"{os.getpid()}\n")

    assert not never_started.is_running()
    assert never_started.stop() is False
    assert not never_started.config.pid_file.exists()


async def _topic_config(admin: AIOKafkaAdminClient, topic: str) -> dict[str, str]:
    responses: list[Any] = await admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic)]
    )
    entries = responses[0].to_object()["resources"][0]["config_entries"]
    # Name and value are the first two fields in every DescribeConfigs response version, but
    # the name's field is spelled differently across versions ("config_name"/"config_names").
    config: dict[str, str] = {}
    for entry in entries:
        name, value, *_ = entry.values()
        config[name] = value
    return config


def _unused_port() -> int:
    # Bind to port 0 so the OS picks a free port, then release it: nothing listens there.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
