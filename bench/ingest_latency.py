"""Ingest benchmark: accepted events/s for batch posts, p50/p99 latency for single posts.

Runs the real ingest app under uvicorn in a child process, publishing to a real Kafka
(acks=all, idempotent), and drives it over HTTP from this process:

    .venv/bin/python -m bench.ingest_latency --bootstrap 127.0.0.1:19092

The key store is in memory (the child registers one publisher key), so the figures are
HTTP + validation + Kafka, without the per-request PostgreSQL key lookup.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

BENCH_KEY_ENV = "INGEST_BENCH_KEY"


def _event(consignment: int) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "gate.arrived",
        "occurred_at": datetime.now(UTC).isoformat(),
        "location": "KZ-NUR-ZHOLY",
        "consignment_id": f"MC-BENCH-{consignment:06d}",
        "carrier_id": "carrier-bench",
        "references": {"tir_carnet": "XH12345678"},
        "source": {"system": "gate"},
    }


def serve(bootstrap: str, topic: str, port: int) -> None:
    """The child: the real app on uvicorn with a real Kafka publisher."""
    import uvicorn

    from services.common.reference_data import load_corridor_reference
    from services.ingest import create_app
    from services.ingest.directory import EmptyDirectory
    from services.ingest.memory import InMemoryKeyStore
    from services.ingest.publisher import KafkaEventPublisher
    from services.ingest.settings import IngestSettings

    async def main() -> None:
        settings = IngestSettings(
            kafka_bootstrap_servers=bootstrap, database_url="postgresql://u:p@127.0.0.1:1/db"
        )
        keys = InMemoryKeyStore()
        plain = keys.add("bench", locations=["KZ-NUR-ZHOLY"])
        publisher = KafkaEventPublisher([bootstrap], topic, 10.0)
        await publisher.start()
        app = create_app(
            settings,
            publisher=publisher,
            key_store=keys,
            reference=load_corridor_reference(),
            directory=EmptyDirectory(),
            now=lambda: datetime.now(UTC),
        )
        print(plain, flush=True)  # the parent reads the key from the first line
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        try:
            await uvicorn.Server(config).serve()
        finally:
            await publisher.stop()

    asyncio.run(main())


async def _singles(client: httpx.AsyncClient, count: int) -> list[float]:
    latencies = []
    for i in range(count):
        body = json.dumps(_event(i))
        started = time.perf_counter()
        response = await client.post("/v1/events", content=body)
        latencies.append(time.perf_counter() - started)
        response.raise_for_status()
    return latencies


async def _batches(
    client: httpx.AsyncClient, seconds: float, batch_size: int, workers: int
) -> tuple[int, float]:
    accepted = 0
    deadline = time.perf_counter() + seconds

    async def worker(offset: int) -> None:
        nonlocal accepted
        n = 0
        while time.perf_counter() < deadline:
            items = [_event(offset * 1_000_000 + n + i) for i in range(batch_size)]
            n += batch_size
            response = await client.post("/v1/events", content=json.dumps(items))
            response.raise_for_status()
            accepted += response.json()["accepted"]

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(workers)))
    return accepted, time.perf_counter() - started


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def drive(args: argparse.Namespace) -> None:
    from infra.kafka.topics import ensure_topics, topic_specs

    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    await ensure_topics(args.bootstrap, topic_specs(prefix))
    topic = f"{prefix}transit-events"
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.ingest_latency",
        "--serve",
        "--bootstrap",
        args.bootstrap,
        "--topic",
        topic,
        "--port",
        str(args.port),
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert child.stdout is not None
        key = (await child.stdout.readline()).decode().strip()
        base = f"http://127.0.0.1:{args.port}"
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            for _ in range(100):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            await _singles(client, 50)  # warm-up
            latencies = await _singles(client, args.singles)
            accepted, elapsed = await _batches(client, args.seconds, args.batch_size, args.workers)
    finally:
        child.terminate()
        await child.wait()
    cpu = _cpu_model()
    print(f"machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}")
    print(
        f"single posts: n={len(latencies)}  p50={_percentile(latencies, 0.5) * 1000:.1f} ms  "
        f"p99={_percentile(latencies, 0.99) * 1000:.1f} ms  "
        f"mean={statistics.mean(latencies) * 1000:.1f} ms"
    )
    print(
        f"batch posts: {args.workers} workers x {args.batch_size} events, {elapsed:.1f} s: "
        f"{accepted} accepted, {accepted / elapsed:,.0f} events/s"
    )


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:19092")
    )
    parser.add_argument("--port", type=int, default=18701)
    parser.add_argument("--singles", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.bootstrap, args.topic, args.port)
    else:
        asyncio.run(drive(args))


if __name__ == "__main__":
    main()
