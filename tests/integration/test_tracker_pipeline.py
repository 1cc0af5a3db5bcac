"""The tracker on the real broker and database, judged against the simulator's truth."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer

from corridor.events import TransitEvent
from simulator import FaultRates, SimulationConfig, SimulationResult, simulate
from tests.integration.tracker_harness import (
    TrackerWorkers,
    database_snapshot,
    first_difference,
    produce,
    stored_event_count,
    truth_snapshot,
    wait_until_converged,
)

# Faults a delivery pipeline really shows; invalid payloads never reach Kafka (ingest
# refuses them), so they are the ingest suite's business.
FAULTY = FaultRates(
    duplicate=0.05, out_of_order=0.05, late=0.03, missing_departure=0.02, conflicting_duplicate=0.02
)
CONVERGE_TIMEOUT = 180.0


def _run(
    seed: int, consignments: int, faults: FaultRates = FAULTY
) -> tuple[SimulationResult, list[TransitEvent]]:
    config = SimulationConfig(seed=seed, consignments=consignments, days=20, faults=faults)
    result = simulate(config)
    events = [delivery.event for delivery in result.deliveries]
    return result, events


def _assert_matches_truth(
    snapshot: dict[str, Any], expected: dict[str, Any], workers: TrackerWorkers
) -> None:
    for key in ("states", "stays", "crossings", "legs"):
        assert snapshot[key] == expected[key], (
            f"{key}: {first_difference(snapshot[key], expected[key])}\n{workers.logs()}"
        )


@pytest.fixture
def workers(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[TrackerWorkers]:
    tracker = TrackerWorkers(kafka_bootstrap, topic_prefix, fresh_database_url, tmp_path)
    yield tracker
    tracker.stop_all()


async def _fresh_topic(kafka_bootstrap: str, workers: TrackerWorkers) -> None:
    """Each test gets its own events topic: a prefix of its own under the run's prefix."""
    from infra.kafka.topics import ensure_topics, topic_specs

    workers.topic_prefix = f"{workers.topic_prefix}{workers.app_id}."
    await ensure_topics(kafka_bootstrap, topic_specs(workers.topic_prefix))


async def test_duplicates_reordering_and_late_events_converge_to_the_truth(
    kafka_bootstrap: str, workers: TrackerWorkers
) -> None:
    await _fresh_topic(kafka_bootstrap, workers)
    result, events = _run(seed=21, consignments=60)
    assert result.summary.faults, "the run must actually contain faults"
    await produce(kafka_bootstrap, f"{workers.topic_prefix}transit-events", events)
    workers.start()
    expected = truth_snapshot(result.truth)
    distinct = len({e.event_id for e in events})
    snapshot = await wait_until_converged(workers, expected, distinct, CONVERGE_TIMEOUT)
    _assert_matches_truth(snapshot, expected, workers)
    assert snapshot["raw_events"][1] == distinct
    clock = await _assert_partition_clocks_are_stored(workers)
    await _assert_overdue_stays_raise_alerts(workers, result, clock)
    await _assert_derived_topics_tell_the_same(workers, expected)


async def _assert_partition_clocks_are_stored(workers: TrackerWorkers) -> datetime:
    """tracker_progress holds each partition's newest event time, read back from Kafka;
    returns the clock open stays are judged by: the slowest partition's."""
    topic = f"{workers.topic_prefix}transit-events"
    newest: dict[tuple[str, int], datetime] = {}
    for record in await _read_records(workers, topic):
        occurred = datetime.fromisoformat(json.loads(record.value)["occurred_at"])
        read_from = (topic, record.partition)
        newest[read_from] = max(occurred, newest.get(read_from, occurred))
    assert len(newest) > 1, "the test needs several partitions"
    with psycopg.connect(workers.database_url) as conn:
        rows = conn.execute("SELECT topic, partition, event_time FROM tracker_progress")
        stored = {(topic, partition): at for topic, partition, at in rows.fetchall()}
    assert stored == newest
    return min(newest.values())


async def _assert_derived_topics_tell_the_same(
    workers: TrackerWorkers, expected: dict[str, Any]
) -> None:
    """The compacted updates topic ends on each consignment's state; alerts are published."""
    updates = await _read_topic(workers, "consignment-updates")
    latest = {key: json.loads(value) for key, value in updates}  # last value per key wins
    assert (
        sorted((cid, update["state"], update["current_location"]) for cid, update in latest.items())
        == expected["states"]
    )
    alerts = [json.loads(value) for _, value in await _read_topic(workers, "alerts")]
    with psycopg.connect(workers.database_url) as conn:
        stored = {row[0] for row in conn.execute("SELECT dedup_key FROM alerts").fetchall()}
    assert stored
    assert stored <= {alert["dedup_key"] for alert in alerts}


async def _read_topic(workers: TrackerWorkers, name: str) -> list[tuple[str, bytes]]:
    records = await _read_records(workers, f"{workers.topic_prefix}{name}")
    return [(record.key.decode(), record.value) for record in records]


async def _read_records(workers: TrackerWorkers, topic: str) -> list[Any]:
    """Every record of `topic` (aiokafka ConsumerRecords), from the start."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=workers.bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        records: list[Any] = []
        while batch := await consumer.getmany(timeout_ms=2000):
            records += [record for partition in batch.values() for record in partition]
        return records
    finally:
        await consumer.stop()


async def _assert_overdue_stays_raise_alerts(
    workers: TrackerWorkers, result: SimulationResult, watermark: datetime
) -> None:
    """Stays still open 72 h before the tracker's clock at the end are alerted."""
    overdue = {
        f"overdue_stay:{stay.consignment_id}:{stay.location}:{stay.visit}"
        for consignment in result.truth.consignments.values()
        for stay in consignment.stays
        if stay.status.value == "in_progress" and watermark - stay.arrived_at > timedelta(hours=72)
    }
    assert overdue, "the run should leave some consignments waiting for days"
    raised: set[str] = set()
    for _ in range(30):  # the scan runs every 2 s in these tests
        with psycopg.connect(workers.database_url) as conn:
            rows = conn.execute("SELECT dedup_key FROM alerts WHERE kind = 'overdue_stay'")
            raised = {row[0] for row in rows.fetchall()}
        if overdue <= raised:
            return
        await asyncio.sleep(1.0)
    assert overdue <= raised, f"not alerted: {sorted(overdue - raised)[:5]}"


async def test_sigkill_during_replay_loses_and_duplicates_nothing(
    kafka_bootstrap: str, workers: TrackerWorkers
) -> None:
    await _fresh_topic(kafka_bootstrap, workers)
    result, events = _run(seed=22, consignments=200)
    await produce(kafka_bootstrap, f"{workers.topic_prefix}transit-events", events)
    expected = truth_snapshot(result.truth)
    distinct = len({e.event_id for e in events})
    rng = random.Random(5)
    # Kill while the work is visibly under way: after a random share of it is stored.
    for share in sorted(rng.uniform(0.1, 0.9) for _ in range(3)):
        workers.start()
        await _wait_for_stored_events(workers, int(share * distinct))
        workers.kill()
    workers.start()
    snapshot = await wait_until_converged(workers, expected, distinct, CONVERGE_TIMEOUT)
    _assert_matches_truth(snapshot, expected, workers)
    # No duplicated rows: one row per (event_id, occurred_at) version actually sent.
    versions = {(str(e.event_id), e.occurred_at) for e in events}
    assert snapshot["raw_events"] == (len(versions), distinct)


async def _wait_for_stored_events(workers: TrackerWorkers, at_least: int) -> None:
    for _ in range(1200):
        if stored_event_count(workers.database_url) >= at_least:
            return
        if not workers.alive():
            raise AssertionError(f"a worker died on its own:\n{workers.logs()}")
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {at_least} events stored within a minute")


async def test_two_workers_share_partitions_and_agree_with_one(
    kafka_bootstrap: str, workers: TrackerWorkers
) -> None:
    await _fresh_topic(kafka_bootstrap, workers)
    result, events = _run(seed=26, consignments=60)
    workers.start(0)
    workers.start(1)
    shares = await _wait_for_split(workers, within_seconds=90)
    assert shares[0].isdisjoint(shares[1])
    assert shares[0] | shares[1] == set(range(6))
    await produce(kafka_bootstrap, f"{workers.topic_prefix}transit-events", events)
    expected = truth_snapshot(result.truth)
    distinct = len({e.event_id for e in events})
    snapshot = await wait_until_converged(workers, expected, distinct, CONVERGE_TIMEOUT)
    _assert_matches_truth(snapshot, expected, workers)
    # Every event stored: a record no worker takes must fail here, not only slow the wait.
    assert snapshot["raw_events"][1] == distinct, workers.logs()
    assert database_snapshot(workers.database_url) == snapshot
    # The worker reading partition 0 scans for overdue stays; one of the two must.
    clock = await _assert_partition_clocks_are_stored(workers)
    await _assert_overdue_stays_raise_alerts(workers, result, clock)


async def _wait_for_split(workers: TrackerWorkers, within_seconds: float) -> list[set[int]]:
    """Both workers' latest assignments, once each owns some events partitions and has
    finished that rebalance. This test is about splitting the work, so it produces only
    once the split has settled; records that reach a worker still in its rebalance are
    test_tracker_rebalance.py's subject (docs/tracker.md, *Records lost after a
    rebalance*)."""
    shares: list[set[int]] = [set(), set()]
    for _ in range(int(within_seconds)):
        logs = [workers.log_of(index) for index in (0, 1)]
        shares = [_assigned_events_partitions(log) for log in logs]
        if all(shares) and len(shares[0] | shares[1]) == 6 and all(map(_settled, logs)):
            return shares
        await asyncio.sleep(1.0)
    raise AssertionError(f"the two workers never split the partitions: {shares}\n{workers.logs()}")


def _settled(log: str) -> bool:
    """Whether the worker's latest rebalance has ended (faust logs "Worker ready")."""
    return "Worker ready" in log.rpartition("Setting newly assigned partitions")[2]


def _assigned_events_partitions(log: str) -> set[int]:
    """Partitions of the events topic in the latest assignment table a worker logged."""
    marker = "Setting newly assigned partitions"
    if marker not in log:
        return set()
    table = log.rpartition(marker)[2].split("for group")[0]
    match = re.search(r"transit-events\s*\|\s*\{([^}]*)\}", table)
    if match is None:
        return set()
    numbers: set[int] = set()
    for part in match.group(1).split(","):
        low, _, high = part.strip().partition("-")
        numbers.update(range(int(low), int(high or low) + 1))
    return numbers
