"""Prometheus metrics of the ingest service, on a registry of its own per app."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Histogram

_LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


@dataclass(frozen=True)
class IngestMetrics:
    registry: CollectorRegistry
    accepted: Counter
    duplicates: Counter
    rejected: Counter
    publish_seconds: Histogram

    @classmethod
    def create(cls) -> IngestMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            accepted=Counter(
                "ingest_events_accepted",
                "Events durably published to Kafka",
                ["endpoint"],
                registry=registry,
            ),
            duplicates=Counter(
                "ingest_events_duplicate",
                "Re-sent events answered from memory",
                ["endpoint"],
                registry=registry,
            ),
            rejected=Counter(
                "ingest_events_rejected",
                "Events refused, by reason (field or cause)",
                ["endpoint", "reason"],
                registry=registry,
            ),
            publish_seconds=Histogram(
                "ingest_publish_seconds",
                "Time until Kafka acknowledged a request's events",
                ["endpoint"],
                registry=registry,
                buckets=_LATENCY_BUCKETS,
            ),
        )
