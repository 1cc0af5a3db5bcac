"""Sinks against doubles: an in-memory ingest API, a recording producer, a fake clock."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
import pytest

from corridor.cloudevents import from_kafka_record
from corridor.events import TransitEvent
from simulator import (
    FaultRates,
    HttpSink,
    KafkaSink,
    NdjsonSink,
    Pacer,
    SimulationConfig,
    SinkError,
    replay,
    simulate,
)
from simulator.simulation import Delivery
from simulator.sinks import Record, record_json, with_invalid

API_KEY = "test-publisher-key"


def records(consignments: int = 8, faulty: bool = False) -> list[Record]:
    faults = FaultRates.preset("faulty" if faulty else "clean")
    result = simulate(SimulationConfig(seed=4, consignments=consignments, days=10, faults=faults))
    if faulty:
        return list(with_invalid(result.deliveries, result.invalid_payloads))
    return list(result.deliveries)


class IngestDouble:
    """Stands in for `POST /v1/events`: checks the key, answers per-batch totals,
    and says 503 + Retry-After for the first `busy` requests."""

    def __init__(self, busy: int = 0) -> None:
        self.busy = busy
        self.batches: list[list[dict[str, Any]]] = []
        self.seen: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/events"
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return httpx.Response(401, json={"title": "unauthorized"})
        if self.busy:
            self.busy -= 1
            return httpx.Response(503, headers={"Retry-After": "7"})
        batch = json.loads(request.content)
        self.batches.append(batch)
        accepted = duplicates = 0
        for item in batch:
            if item["event_id"] in self.seen:
                duplicates += 1
            else:
                self.seen.add(item["event_id"])
                accepted += 1
        return httpx.Response(
            200, json={"accepted": accepted, "duplicates": duplicates, "rejected": 0, "results": []}
        )


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def http_sink(
    double: IngestDouble, sleep: Sleeps, key: str = API_KEY, attempts: int = 6
) -> HttpSink:
    client = httpx.AsyncClient(base_url="http://ingest.test", transport=httpx.MockTransport(double))
    return HttpSink(client, key, sleep=sleep, max_attempts=attempts, max_wait=5.0)


async def test_http_sink_posts_json_array_batches() -> None:
    sent = records()
    double, sleep = IngestDouble(), Sleeps()
    stats = await replay(sent, http_sink(double, sleep), batch_size=100)
    assert [len(b) for b in double.batches[:-1]] == [100] * (len(double.batches) - 1)
    posted = [TransitEvent.model_validate(item) for batch in double.batches for item in batch]
    assert posted == [r.event for r in sent if isinstance(r, Delivery)]
    assert (stats.sent, stats.accepted, stats.retries) == (len(sent), len(sent), 0)


async def test_http_sink_retries_503_honouring_a_bounded_retry_after() -> None:
    double, sleep = IngestDouble(busy=2), Sleeps()
    stats = await replay(records(2), http_sink(double, sleep), batch_size=1000)
    assert sleep.calls == [5.0, 5.0]  # Retry-After 7 s, capped at max_wait
    assert stats.retries == 2
    assert len(double.batches) == 1


async def test_http_sink_gives_up_after_bounded_attempts() -> None:
    double, sleep = IngestDouble(busy=100), Sleeps()
    with pytest.raises(SinkError, match="3 attempts"):
        await replay(records(2), http_sink(double, sleep, attempts=3))
    assert len(sleep.calls) == 2


async def test_http_sink_stops_on_a_refused_key() -> None:
    with pytest.raises(SinkError, match="401"):
        await replay(records(2), http_sink(IngestDouble(), Sleeps(), key="wrong"))


async def test_http_sink_counts_duplicates_the_ingest_reports() -> None:
    double, sleep = IngestDouble(), Sleeps()
    stats = await replay(records(8, faulty=True), http_sink(double, sleep), batch_size=50)
    assert stats.duplicates > 0
    assert stats.accepted + stats.duplicates == stats.sent


async def test_ndjson_sink_writes_one_event_per_line() -> None:
    sent = records()
    out = io.StringIO()
    await replay(sent, NdjsonSink(out), batch_size=7)
    lines = out.getvalue().splitlines()
    assert lines == [record_json(r) for r in sent]


class RecordingProducer:
    """A producer double: records what aiokafka would send."""

    def __init__(self) -> None:
        self.started = self.stopped = False
        self.sent: list[tuple[str, bytes, bytes, list[tuple[str, bytes]]]] = []

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        assert value is not None
        assert key is not None
        assert headers is not None
        self.sent.append((topic, key, value, headers))

        async def acked() -> None:
            return None

        return acked()


async def test_kafka_sink_sends_cloudevents_keyed_by_consignment() -> None:
    sent = records(6, faulty=True)
    producer = RecordingProducer()
    stats = await replay(sent, KafkaSink(producer, "corridor.transit-events"), batch_size=64)
    assert producer.started
    assert producer.stopped
    valid = [r for r in sent if isinstance(r, Delivery)]
    assert len(producer.sent) == len(valid) == stats.accepted
    assert stats.rejected == len(sent) - len(valid)  # invalid payloads never reach Kafka
    for (topic, key, value, headers), record in zip(producer.sent, valid, strict=True):
        assert topic == "corridor.transit-events"
        event = from_kafka_record(key, value, headers)
        assert event == record.event
        assert dict(headers)["ce_subject"] == event.consignment_id.encode()


async def test_replay_paces_by_compressed_delivery_time() -> None:
    sent = records(3)
    clock = [0.0]
    sleep = Sleeps()

    async def advance(seconds: float) -> None:
        await sleep(seconds)
        clock[0] += seconds

    out = io.StringIO()
    await replay(sent, NdjsonSink(out), pacer=Pacer(3600, clock=lambda: clock[0]), sleep=advance)
    span = (sent[-1].deliver_ts - sent[0].deliver_ts) / 3600
    assert sum(sleep.calls) == pytest.approx(span, rel=1e-6)
    assert len(out.getvalue().splitlines()) == len(sent)
