"""Publishing accepted events to Kafka, durably, before anything is acknowledged.

`KafkaEventPublisher` uses an idempotent aiokafka producer with `acks=all`: a publish
returns only once every in-sync replica has the records. Any failure or timeout raises
`BrokerUnavailable`, which the HTTP edge turns into 503 + Retry-After.

After a failure the producer is abandoned: its still-buffered records are failed, not
delivered later, so a request answered 503 does not reappear on the topic once the
broker is back (a record already on the wire when the broker died may still land: a
timeout is ambiguous in Kafka; re-sending keeps the event id, so it stays a duplicate).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from corridor.cloudevents import KafkaRecord, to_kafka_record
from corridor.events import TransitEvent
from services.common.kafka_internals import drop_buffered_records

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time; nothing may be reported as accepted."""


class EventPublisher(Protocol):
    async def publish(self, events: Sequence[TransitEvent]) -> None:
        """Return once Kafka has every event; else raise `BrokerUnavailable`."""
        ...

    async def is_ready(self) -> bool: ...


class KafkaEventPublisher:
    def __init__(
        self, bootstrap_servers: list[str], topic: str, timeout_seconds: float = 10.0
    ) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._timeout = timeout_seconds
        self._producer: AIOKafkaProducer | None = None
        self._lock = asyncio.Lock()

    @property
    def topic(self) -> str:
        return self._topic

    async def start(self) -> None:
        """Connect now; raise `BrokerUnavailable` if the brokers cannot be reached."""
        await self._current()

    async def stop(self) -> None:
        async with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def publish(self, events: Sequence[TransitEvent]) -> None:
        records = [to_kafka_record(event) for event in events]
        producer = await self._current()
        try:
            await asyncio.wait_for(self._send_all(producer, records), timeout=self._timeout)
        except (KafkaError, TimeoutError) as exc:
            log.warning("publish of %d events failed: %r", len(records), exc)
            await self._abandon(producer, exc)
            raise BrokerUnavailable(str(exc) or type(exc).__name__) from exc

    async def is_ready(self) -> bool:
        try:
            producer = await self._current()
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout=3)
        except (BrokerUnavailable, KafkaError, TimeoutError):
            return False
        return True

    async def _send_all(self, producer: AIOKafkaProducer, records: list[KafkaRecord]) -> None:
        # Queue every record first so they travel in as few batches as possible, then
        # wait for all acknowledgements; the producer keeps per-partition order.
        pending = [
            await producer.send(self._topic, key=r.key, value=r.value, headers=list(r.headers))
            for r in records
        ]
        await asyncio.gather(*pending)

    async def _current(self) -> AIOKafkaProducer:
        async with self._lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap_servers,
                    acks="all",
                    enable_idempotence=True,
                    linger_ms=2,
                    request_timeout_ms=int(self._timeout * 1000),
                    client_id="corridor-ingest",
                )
                try:
                    await asyncio.wait_for(producer.start(), timeout=self._timeout)
                except (KafkaError, TimeoutError, OSError) as exc:
                    with contextlib.suppress(Exception):
                        await producer.stop()
                    raise BrokerUnavailable(f"cannot reach Kafka: {exc!r}") from exc
                self._producer = producer
            return self._producer

    async def _abandon(self, producer: AIOKafkaProducer, cause: BaseException) -> None:
        async with self._lock:
            if self._producer is producer:
                self._producer = None
        # Fail what is still buffered so it is never delivered after our 503.
        drop_buffered_records(producer, BrokerUnavailable(repr(cause)))
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), timeout=2)
