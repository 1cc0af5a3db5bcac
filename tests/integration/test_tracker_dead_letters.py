"""Poison records written straight to the events topic (past ingest) do not stop the
tracker: they are set aside as dead letters, every other consignment's rows equal the
truth, and an operator can list and replay them."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from corridor.cloudevents import DATA_DIGEST, to_kafka_record
from corridor.events import EventType
from infra.kafka.topics import ensure_topics, topic_specs
from simulator import SimulationConfig, simulate
from tests.integration.tracker_harness import (
    REPO_ROOT,
    TrackerWorkers,
    database_snapshot,
    first_difference,
    produce,
    truth_snapshot,
)
from tests.unit.factories import event

# Arrived in 1950, departed in 2026: a dwell no integer column holds. The event contract
# now refuses the 1950 instant, so the tracker sets the arrival aside as it decodes it.
POISONED = "POISON-0001"
UNDECODABLE = b"{this is no event"
CONVERGE_TIMEOUT = 180.0


@pytest.fixture
def workers(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[TrackerWorkers]:
    tracker = TrackerWorkers(kafka_bootstrap, topic_prefix, fresh_database_url, tmp_path)
    tracker.topic_prefix = f"{topic_prefix}{tracker.app_id}."
    yield tracker
    tracker.stop_all()


def arrival_in_1950() -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """A record as a careless publisher might write it to Kafka itself."""
    record = to_kafka_record(
        event(EventType.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0, consignment_id=POISONED)
    )
    body = json.loads(record.value)
    body["occurred_at"] = "1950-01-01T00:00:00Z"
    headers = [(name, value) for name, value in record.headers if name != DATA_DIGEST]
    headers = [(n, b"1950-01-01T00:00:00Z" if n == "ce_time" else v) for n, v in headers]
    return record.key, json.dumps(body).encode(), headers


async def write_poison(bootstrap: str, topic: str) -> None:
    departure = to_kafka_record(
        event(EventType.GATE_DEPARTED, "KZ-NUR-ZHOLY", 0, consignment_id=POISONED)
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        key, value, headers = arrival_in_1950()
        await producer.send_and_wait(topic, key=key, value=value, headers=headers)
        await producer.send_and_wait(
            topic, key=departure.key, value=departure.value, headers=list(departure.headers)
        )
        await producer.send_and_wait(
            topic, key=b"POISON-0002", value=UNDECODABLE, headers=[("ce_specversion", b"1.0")]
        )
    finally:
        await producer.stop()


def dead_letters(database_url: str) -> list[tuple[Any, ...]]:
    """By consignment, then id (the partitions are read in no set order)."""
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT id, consignment_id, record_value, error, replayed_at, record_offset"
            " FROM dead_letters ORDER BY consignment_id, id"
        ).fetchall()


def without(rows: list[tuple[Any, ...]], consignment_id: str) -> list[tuple[Any, ...]]:
    return [row for row in rows if row[0] != consignment_id]


async def until(condition: Any, workers: TrackerWorkers, what: str) -> None:
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    while not condition():
        assert workers.alive(), f"a worker stopped while waiting for {what}\n{workers.logs()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{workers.logs()}"
        await asyncio.sleep(1.0)


def cli(workers: TrackerWorkers, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "services.tracker", "dead-letters", *args],
        cwd=REPO_ROOT,
        env=workers.env(99),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def records_of(bootstrap: str, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5_000)
        return [record for records in batches.values() for record in records]
    finally:
        await consumer.stop()


async def test_poison_records_are_dead_lettered_and_tracking_goes_on(
    kafka_bootstrap: str, workers: TrackerWorkers
) -> None:
    await ensure_topics(kafka_bootstrap, topic_specs(workers.topic_prefix))
    events_topic = f"{workers.topic_prefix}transit-events"
    result = simulate(SimulationConfig(seed=7, consignments=30, days=20))
    events = [delivery.event for delivery in result.deliveries]
    half = len(events) // 2
    await produce(kafka_bootstrap, events_topic, events[:half])
    await write_poison(kafka_bootstrap, events_topic)  # in the middle of the traffic
    await produce(kafka_bootstrap, events_topic, events[half:])
    distinct = len({e.event_id for e in events})  # the arrival of 1950 is never stored
    workers.start()

    def settled() -> bool:
        snapshot = database_snapshot(workers.database_url)
        return (
            snapshot["raw_events"][1] == distinct and len(dead_letters(workers.database_url)) == 2
        )

    await until(settled, workers, "every good event stored and two dead letters")
    snapshot, expected = database_snapshot(workers.database_url), truth_snapshot(result.truth)
    for key in ("states", "stays", "crossings", "legs"):
        assert without(snapshot[key], POISONED) == expected[key], first_difference(
            without(snapshot[key], POISONED), expected[key]
        )
    letters = dead_letters(workers.database_url)
    assert [(row[1], row[2] == UNDECODABLE) for row in letters] == [
        (POISONED, False),
        ("POISON-0002", True),
    ]
    assert "occurred_at" in letters[0][3]
    assert "2000-01-01" in letters[0][3]
    with psycopg.connect(workers.database_url) as conn:
        alerts = conn.execute("SELECT count(*) FROM alerts WHERE kind = 'dead_letter'").fetchone()
    assert alerts == (2,)
    on_topic = await records_of(kafka_bootstrap, f"{workers.topic_prefix}dead-letters")
    assert sorted(r.key for r in on_topic) == [POISONED.encode(), b"POISON-0002"]
    assert all(dict(r.headers).get("dead_letter_error") for r in on_topic)

    listed = cli(workers, "list").splitlines()
    assert sorted(line.split("\t")[4] for line in listed) == [POISONED, "POISON-0002"]
    undecodable_id = letters[1][0]
    assert "replayed" in cli(workers, "replay", str(undecodable_id))
    # The replayed record is read again, fails again, and is set aside again.
    await until(lambda: len(dead_letters(workers.database_url)) == 3, workers, "the replay")
    letters = dead_letters(workers.database_url)
    replayed, again = letters[1], letters[2]
    assert replayed[4] is not None
    assert replayed[4] <= datetime.now(UTC)
    assert again[2] == UNDECODABLE
    assert again[5] > replayed[5]  # a new record of the events topic
    assert str(undecodable_id) not in [
        line.split("\t")[0] for line in cli(workers, "list", "--waiting").splitlines()
    ]
