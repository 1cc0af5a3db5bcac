"""Prometheus metrics of the dispatcher, on a registry of its own."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


@dataclass(frozen=True)
class DispatcherMetrics:
    registry: CollectorRegistry
    deliveries: Counter
    failures: Counter
    dead_letters: Counter
    enqueued: Counter
    delivery_seconds: Histogram
    lag: Gauge
    pending: Gauge

    @classmethod
    def create(cls) -> DispatcherMetrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            deliveries=Counter(
                "webhook_deliveries", "Deliveries answered 2xx", ["event_type"], registry=registry
            ),
            failures=Counter(
                "webhook_delivery_failures",
                "Failed attempts, by cause (HTTP status class, timeout, error, refused)",
                ["cause"],
                registry=registry,
            ),
            dead_letters=Counter(
                "webhook_dead_letters",
                "Deliveries given up after the last retry",
                registry=registry,
            ),
            enqueued=Counter(
                "webhook_notifications",
                "Notifications queued for delivery",
                ["event_type"],
                registry=registry,
            ),
            delivery_seconds=Histogram(
                "webhook_delivery_seconds",
                "Time of one delivery attempt",
                registry=registry,
                buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            ),
            lag=Gauge(
                "webhook_consumer_lag",
                "Records of the derived topics not yet read by this dispatcher",
                ["topic", "partition"],
                registry=registry,
            ),
            pending=Gauge(
                "webhook_pending_deliveries",
                "Deliveries waiting to be sent or retried",
                registry=registry,
            ),
        )
