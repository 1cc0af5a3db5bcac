"""The dispatcher's two loops: read the derived topics into the outbox, send what is due.

Stateless besides the database: every dispatcher of the consumer group reads its share
of the partitions (more dispatchers, up to the partition count, read faster), and all
of them send from the one outbox, each claiming what it sends.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer

from services.dispatcher.delivery import DeliveryWorker
from services.dispatcher.intake import DerivedRecord, Topic, WebhookIntake
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.ports import WebhookOutbox

log = logging.getLogger("dispatcher")


class Dispatcher:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        topics: dict[str, Topic],
        intake: WebhookIntake,
        worker: DeliveryWorker,
        store: WebhookOutbox,
        metrics: DispatcherMetrics,
        poll_seconds: float,
    ) -> None:
        self._consumer = consumer
        self._topics = topics
        self._intake = intake
        self._worker = worker
        self._store = store
        self._metrics = metrics
        self._poll = poll_seconds

    async def run(self) -> None:
        """Both loops until cancelled or one fails (then the other stops too)."""
        async with asyncio.TaskGroup() as group:
            group.create_task(self.read_topics(), name="read-topics")
            group.create_task(self.send_due(), name="send-due")

    async def read_topics(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=500, max_records=500)
            records = [
                DerivedRecord(self._topics[tp.topic], record.value)
                for tp, items in batches.items()
                for record in items
                if record.value is not None
            ]
            if records:
                await self._intake.take(records)
                await self._consumer.commit()
            await self._measure_lag()

    async def send_due(self) -> None:
        while True:
            attempted = await self._worker.deliver_due()
            self._metrics.pending.set(await self._store.pending_count())
            if not attempted:
                await asyncio.sleep(self._poll)

    async def _measure_lag(self) -> None:
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue  # nothing fetched from it yet
            position = await self._consumer.position(tp)
            self._metrics.lag.labels(tp.topic, str(tp.partition)).set(max(0, highwater - position))
