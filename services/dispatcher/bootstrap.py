"""The one wiring place of the dispatcher: settings in, a running `Dispatcher` out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx
from aiokafka import AIOKafkaConsumer

from corridor.eta import ArrivalEstimate
from services.common.eta import CachedEtaStatistics, estimate_for
from services.common.reference_data import load_corridor_reference
from services.dispatcher.app import Dispatcher
from services.dispatcher.delivery import DeliveryWorker, RetryPolicy
from services.dispatcher.intake import EtaOf, Topic, WebhookIntake
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.settings import DispatcherSettings
from storage.db import Pool, create_pool
from storage.queries.consignment_eta import ConsignmentEtas
from storage.queries.consignments import ConsignmentQueries
from storage.queries.eta import EtaQueries
from storage.queries.locations import LocationQueries
from storage.queries.webhooks import WebhookStore

ETA_STATISTICS_SECONDS = 60.0


def eta_reader(pool: Pool, settings: DispatcherSettings, now: Callable[[], datetime]) -> EtaOf:
    consignments, locations = ConsignmentQueries(pool), LocationQueries(pool)
    statistics = CachedEtaStatistics(EtaQueries(pool), ttl=ETA_STATISTICS_SECONDS)
    reference = load_corridor_reference(settings.customs_offices_extra_file)

    async def eta_of(consignment_id: str, carrier_id: str | None) -> ArrivalEstimate | None:
        view = await consignments.consignment_status(consignment_id, carrier_id)
        if view is None:
            return None

        async def judged_at() -> datetime:
            wall = now()
            return min(await locations.tracker_clock() or wall, wall)

        return await estimate_for(view.consignment, view.stays, reference, statistics, judged_at)

    return eta_of


@asynccontextmanager
async def dispatcher(
    settings: DispatcherSettings,
    metrics: DispatcherMetrics,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[Dispatcher]:
    topics = {settings.topic(t.value): t for t in Topic}
    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap_servers,
        group_id=settings.topic(settings.dispatcher_group_id),
        enable_auto_commit=False,
        auto_offset_reset=settings.dispatcher_offset_reset,
    )
    pool = create_pool(settings.dsn, min_size=1, max_size=4, name="dispatcher")
    async with pool, httpx.AsyncClient(follow_redirects=False) as client:
        store = WebhookStore(pool)
        worker = DeliveryWorker(
            store,
            client,
            RetryPolicy(
                settings.webhook_max_attempts,
                settings.webhook_retry_base_seconds,
                settings.webhook_retry_max_seconds,
            ),
            settings.insecure_hosts,
            metrics,
            now,
            timeout=settings.webhook_timeout_seconds,
            concurrency=settings.webhook_concurrency,
        )
        etas = ConsignmentEtas(pool)
        intake = WebhookIntake(store, eta_reader(pool, settings, now), etas, metrics)
        await consumer.start()
        try:
            yield Dispatcher(
                consumer, topics, intake, worker, store, metrics, settings.webhook_poll_seconds
            )
        finally:
            await consumer.stop()
