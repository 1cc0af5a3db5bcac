"""Where deliveries go: an NDJSON stream, the ingest HTTP API, or Kafka directly.

Every sink takes batches of records (`Delivery`, or `InvalidPayload` for negative
tests) and is driven by `replay`, which paces them by delivery time compressed by a
factor. The I/O clients are passed in, so tests hand over doubles instead of patching.

    SinkError        a sink gave up: refused credentials, or retries exhausted
"""

from __future__ import annotations

import asyncio
import heapq
import json
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

import httpx
from pydantic import ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt

from corridor.cloudevents import to_kafka_record
from corridor.events import TransitEvent
from simulator.faults import InvalidPayload
from simulator.files import FileRecord
from simulator.simulation import Delivery

Record = Delivery | InvalidPayload | FileRecord
OnSent = Callable[[Sequence[Record]], None]
Sleep = Callable[[float], Awaitable[None]]


class SinkError(Exception):
    pass


def record_json(record: Record) -> str:
    """Exactly the `TransitEvent` JSON, the file's line, or the raw invalid payload."""
    if isinstance(record, Delivery | FileRecord):
        return record.json()
    return json.dumps(record.payload, separators=(",", ":"))


def with_invalid(
    deliveries: Iterable[Delivery], invalid: Iterable[InvalidPayload]
) -> Iterator[Record]:
    """Interleave invalid payloads into the stream at their delivery times."""
    return heapq.merge(deliveries, invalid, key=lambda record: record.deliver_ts)


@dataclass(slots=True)
class SinkStats:
    sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    batches: int = 0

    def render(self) -> str:
        return (
            f"sent {self.sent} in {self.batches} batches: accepted {self.accepted}, "
            f"duplicates {self.duplicates}, rejected {self.rejected}, retries {self.retries}"
        )


class Sink(Protocol):
    stats: SinkStats

    async def send(self, batch: Sequence[Record]) -> None: ...

    async def close(self) -> None: ...


class NdjsonSink:
    """One JSON document per line to a text stream (a file, or stdout)."""

    def __init__(self, out: TextIO, *, owned: bool = False) -> None:
        self.out = out
        self.owned = owned  # close it when done: we opened it
        self.stats = SinkStats()

    async def send(self, batch: Sequence[Record]) -> None:
        self.out.writelines(record_json(record) + "\n" for record in batch)
        self.out.flush()
        self.stats.sent += len(batch)
        self.stats.accepted += len(batch)
        self.stats.batches += 1

    async def close(self) -> None:
        if self.owned:
            self.out.close()
        else:
            self.out.flush()


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


class HttpSink:
    """`POST {url}/v1/events` with a JSON array per batch; 503/429 honour Retry-After."""

    RETRY_STATUSES = frozenset({429, 502, 503, 504})

    def __init__(
        self,
        client: httpx.AsyncClient,
        api_key: str,
        *,
        max_attempts: int = 6,
        max_wait: float = 30.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
        self.max_attempts = max_attempts
        self.max_wait = max_wait
        self.sleep = sleep
        self.stats = SinkStats()

    def _wait(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = error.retry_after if isinstance(error, _Retryable) else None
        backoff = 0.5 * 2 ** (state.attempt_number - 1)
        return min(self.max_wait, hinted if hinted is not None else backoff)

    async def send(self, batch: Sequence[Record]) -> None:
        body = ("[" + ",".join(record_json(r) for r in batch) + "]").encode()
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(_Retryable),
            stop=stop_after_attempt(self.max_attempts),
            wait=self._wait,
            sleep=self.sleep,
            before_sleep=lambda _: self._count_retry(),
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(self._post, body)
        except _Retryable as exc:
            raise SinkError(f"gave up after {self.max_attempts} attempts: {exc}") from exc
        self._tally(response, len(batch))

    def _count_retry(self) -> None:
        self.stats.retries += 1

    async def _post(self, body: bytes) -> httpx.Response:
        try:
            response = await self.client.post("/v1/events", content=body, headers=self.headers)
        except httpx.TransportError as exc:
            raise _Retryable(f"transport error: {exc!r}") from exc
        if response.status_code in self.RETRY_STATUSES:
            raise _Retryable(f"HTTP {response.status_code}", _retry_after(response))
        if response.status_code in (401, 403):
            raise SinkError(f"HTTP {response.status_code}: the ingest refused the API key")
        return response

    def _tally(self, response: httpx.Response, size: int) -> None:
        stats = self.stats
        stats.sent += size
        stats.batches += 1
        if not response.is_success:
            stats.rejected += size
            return
        counts = _ingest_counts(response)
        if counts is None:
            stats.accepted += size
            return
        stats.accepted += counts.get("accepted", 0)
        stats.duplicates += counts.get("duplicates", 0)
        stats.rejected += counts.get("rejected", 0)

    async def close(self) -> None:
        await self.client.aclose()


def _ingest_counts(response: httpx.Response) -> dict[str, int] | None:
    """The ingest's per-batch totals (`accepted`, `duplicates`, `rejected`), if it sent them."""
    try:
        body: Any = response.json()
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    counts = {key: body[key] for key in ("accepted", "duplicates", "rejected") if key in body}
    return counts if all(isinstance(v, int) for v in counts.values()) and counts else None


class Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Awaitable[Any]: ...


def kafka_producer(bootstrap_servers: str) -> Producer:
    """Durable producer: every in-sync replica acks, retries cannot duplicate."""
    from aiokafka import AIOKafkaProducer

    producer: Producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        client_id="corridor-simulator",
    )
    return producer


class KafkaSink:
    """Canonical events straight onto the topic; invalid payloads never go to Kafka."""

    def __init__(self, producer: Producer, topic: str) -> None:
        self.producer = producer
        self.topic = topic
        self.stats = SinkStats()
        self._started = False

    async def send(self, batch: Sequence[Record]) -> None:
        if not self._started:
            await self.producer.start()
            self._started = True
        pending = []
        for record in batch:
            event = _event_or_none(record)
            if event is None:
                self.stats.rejected += 1
                continue
            kafka = to_kafka_record(event)
            pending.append(
                await self.producer.send(
                    self.topic, value=kafka.value, key=kafka.key, headers=kafka.headers
                )
            )
        await asyncio.gather(*pending)
        self.stats.sent += len(batch)
        self.stats.accepted += len(pending)
        self.stats.batches += 1

    async def close(self) -> None:
        if self._started:
            await self.producer.stop()


def _event_or_none(record: Record) -> TransitEvent | None:
    """The event to produce; None for what must never reach the topic (not an event)."""
    if isinstance(record, InvalidPayload):
        return None
    try:
        return record.event
    except ValidationError:
        return None  # a file line that is not an event: the ingest would refuse it too


class Pacer:
    """Spaces records by delivery time / `compress` (0: as fast as possible)."""

    def __init__(self, compress: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.compress = compress
        self.clock = clock
        self._origin: tuple[int, float] | None = None

    def delay(self, deliver_ts: int) -> float:
        if self.compress <= 0:
            return 0.0
        if self._origin is None:
            self._origin = (deliver_ts, self.clock())
            return 0.0
        simulated, real = self._origin
        return real + (deliver_ts - simulated) / self.compress - self.clock()


async def replay(
    records: Iterable[Record],
    sink: Sink,
    *,
    batch_size: int = 500,
    pacer: Pacer | None = None,
    sleep: Sleep = asyncio.sleep,
    on_sent: OnSent | None = None,
) -> SinkStats:
    """Send records in batches, flushing early whenever pacing makes us wait.

    `on_sent` is called with each batch once the sink has taken it durably (a 2xx from
    the ingest, every Kafka ack): where a checkpoint records progress.
    """
    pacer = pacer or Pacer(0)
    batch: list[Record] = []

    async def flush() -> None:
        nonlocal batch
        taken, batch = batch, []
        await sink.send(taken)
        if on_sent is not None:
            on_sent(taken)

    try:
        for record in records:
            wait = pacer.delay(record.deliver_ts)
            if wait > 0:
                if batch:
                    await flush()
                await sleep(wait)
            batch.append(record)
            if len(batch) >= batch_size:
                await flush()
        if batch:
            await flush()
    finally:
        await sink.close()
    return sink.stats
