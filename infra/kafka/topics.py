"""The project's Kafka topics, declared as code and applied idempotently.

The broker runs with ``auto.create.topics.enable=false``, so every topic a service uses must
be declared here and applied (``python -m infra.kafka topics`` or ``up``) before use.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError, for_code

DEFAULT_TOPIC_PREFIX = "corridor."
# Replicas per partition when the caller does not say: as many as there are brokers, up to
# this (a cluster of three keeps every partition on all three).
MAX_DEFAULT_REPLICATION_FACTOR = 3

_DAY_MS = 24 * 60 * 60 * 1000


def _retention_days(days: int) -> str:
    return str(days * _DAY_MS)


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name, partition count and topic-level configs (e.g. ``cleanup.policy``)."""

    name: str
    partitions: int
    config: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.partitions < 1:
            raise ValueError(f"{self.name}: a topic needs at least one partition")


class TopicPartitionMismatchError(RuntimeError):
    """Existing topics have fewer partitions than declared (Kafka cannot fix that for us)."""

    def __init__(self, shortfalls: Mapping[str, tuple[int, int]]) -> None:
        self.shortfalls = dict(shortfalls)
        details = ", ".join(
            f"{name}: has {actual}, declared {declared}"
            for name, (actual, declared) in sorted(self.shortfalls.items())
        )
        super().__init__(
            "topics exist with fewer partitions than declared "
            f"({details}); adding partitions changes which partition a key maps to, so it "
            "is not done automatically: recreate the topic or raise its partitions deliberately"
        )


@dataclass(frozen=True)
class EnsureTopicsResult:
    created: tuple[str, ...]
    already_present: tuple[str, ...]
    # Topics that exist with MORE partitions than declared: usable, but worth knowing about.
    more_partitions_than_declared: Mapping[str, int] = field(default_factory=dict)


def topic_specs(prefix: str = DEFAULT_TOPIC_PREFIX) -> list[TopicSpec]:
    """Every topic of the Middle Corridor tracker, each name prefixed with ``prefix``."""
    return [
        # Raw canonical transit events, keyed by consignment id so that one consignment's
        # events stay in order on one partition. Kept 90 days for replays and audits.
        TopicSpec(
            name=f"{prefix}transit-events",
            partitions=6,
            config={"cleanup.policy": "delete", "retention.ms": _retention_days(90)},
        ),
        # Latest state per consignment: compaction keeps the newest record per key forever,
        # so a new consumer can rebuild current state without reading all events.
        TopicSpec(
            name=f"{prefix}consignment-updates",
            partitions=6,
            config={"cleanup.policy": "compact"},
        ),
        TopicSpec(
            name=f"{prefix}alerts",
            partitions=3,
            config={"cleanup.policy": "delete", "retention.ms": _retention_days(30)},
        ),
        # Records of the events topic the tracker could not store for a reason other than an
        # outage, each as it was read plus an error header; replayed from the dead_letters table.
        TopicSpec(
            name=f"{prefix}dead-letters",
            partitions=1,
            config={"cleanup.policy": "delete", "retention.ms": _retention_days(90)},
        ),
        # Input that failed validation, for inspection; one partition keeps it in arrival order.
        TopicSpec(
            name=f"{prefix}ingest-rejects",
            partitions=1,
            config={"cleanup.policy": "delete", "retention.ms": _retention_days(7)},
        ),
    ]


async def ensure_topics(
    bootstrap_servers: str,
    specs: Sequence[TopicSpec],
    *,
    replication_factor: int | None = None,
    min_insync_replicas: int | None = None,
    request_timeout_ms: int = 30_000,
) -> EnsureTopicsResult:
    """Create the topics of ``specs`` that do not exist yet; existing ones are left as they are.

    Safe to run any number of times, also concurrently (a topic created by someone else in
    between counts as already present). ``replication_factor`` defaults to the number of
    brokers, at most 3. ``min_insync_replicas``, when given, is set on each
    topic created (a cluster's broker default says the same; a topic should not depend on
    it). Raises :class:`TopicPartitionMismatchError` when an
    existing topic has fewer partitions than its spec.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="corridor-topics",
        request_timeout_ms=request_timeout_ms,
    )
    await admin.start()
    try:
        existing = await _partition_counts(admin, [spec.name for spec in specs])
        missing = [spec for spec in specs if spec.name not in existing]
        if missing and replication_factor is None:
            brokers = len((await admin.describe_cluster()).get("brokers", []))
            replication_factor = max(1, min(brokers, MAX_DEFAULT_REPLICATION_FACTOR))
        created: list[str] = []
        raced: list[str] = []
        if missing:
            created, raced = await _create(
                admin, missing, replication_factor or 1, min_insync_replicas, request_timeout_ms
            )
            # CreateTopics is answered by the controller; Metadata by the broker's cache, which
            # catches up a moment later. Wait for it, so that callers (and a second run right
            # after this one) see the topics that were just created or raced into existence.
            if created or raced:
                existing.update(
                    await _wait_until_visible(
                        admin, [*created, *raced], timeout_s=request_timeout_ms / 1000
                    )
                )
    finally:
        await admin.close()

    return _result(specs, existing, created)


async def _create(
    admin: AIOKafkaAdminClient,
    missing: Sequence[TopicSpec],
    replication_factor: int,
    min_insync_replicas: int | None,
    request_timeout_ms: int,
) -> tuple[list[str], list[str]]:
    """Create `missing`: the topics this call created, and those someone else created first."""
    response = await admin.create_topics(
        [
            NewTopic(
                name=spec.name,
                num_partitions=spec.partitions,
                replication_factor=replication_factor,
                topic_configs=_with_min_insync(spec.config, min_insync_replicas),
            )
            for spec in missing
        ],
        timeout_ms=request_timeout_ms,
    )
    created: list[str] = []
    raced: list[str] = []
    for topic, error_code, *rest in response.topic_errors:
        if error_code == 0:
            created.append(topic)
        elif for_code(error_code) is TopicAlreadyExistsError:
            raced.append(topic)
        else:
            message = rest[0] if rest else ""
            raise for_code(error_code)(f"creating topic {topic!r} failed: {message}")
    return created, raced


def _result(
    specs: Sequence[TopicSpec], existing: dict[str, int], created: list[str]
) -> EnsureTopicsResult:
    declared = {spec.name: spec.partitions for spec in specs}
    shortfalls = {
        name: (actual, declared[name])
        for name, actual in existing.items()
        if actual < declared[name]
    }
    if shortfalls:
        raise TopicPartitionMismatchError(shortfalls)
    return EnsureTopicsResult(
        created=tuple(created),
        already_present=tuple(sorted(name for name in existing if name not in created)),
        more_partitions_than_declared={
            name: actual for name, actual in existing.items() if actual > declared[name]
        },
    )


def _with_min_insync(config: Mapping[str, str], min_insync: int | None) -> dict[str, str]:
    if min_insync is None:
        return dict(config)
    return {**config, "min.insync.replicas": str(min_insync)}


async def _wait_until_visible(
    admin: AIOKafkaAdminClient, names: Sequence[str], timeout_s: float
) -> dict[str, int]:
    """Partition counts of ``names`` once the broker's metadata lists all of them."""
    try:
        async with asyncio.timeout(timeout_s):
            while True:
                counts = await _partition_counts(admin, names)
                if len(counts) == len(names) and all(counts.values()):
                    return counts
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise TimeoutError(
            f"topics {sorted(names)} were created but did not appear in the broker's "
            f"metadata within {timeout_s:g}s"
        ) from None


async def _partition_counts(admin: AIOKafkaAdminClient, names: Sequence[str]) -> dict[str, int]:
    """Partition count of each topic in ``names`` that exists; missing ones are left out."""
    if not names:
        return {}
    described: list[dict[str, Any]] = await admin.describe_topics(list(names))
    counts: dict[str, int] = {}
    for topic in described:
        if topic["error_code"] == 0:
            counts[topic["topic"]] = len(topic["partitions"])
        elif for_code(topic["error_code"]) is not UnknownTopicOrPartitionError:
            raise for_code(topic["error_code"])(f"describing topic {topic['topic']!r} failed")
    return counts
