"""`python -m bench.soak`: a long steady load on the single-broker stack; is memory flat?

    python -m bench.soak                          # 30 minutes at 500 events/s, 12 warming up
    python -m bench.soak --minutes 2 --warm-up 1  # proves it runs

Brings up a broker and a PostgreSQL of its own on free ports (so that it never meets a
`python -m bench` run; `.run/kafka-soak`, cluster `soak`) and stops them at the end, runs ingest,
one tracker worker and the API as processes, and posts simulated events to ingest at a
steady rate (one small batch per tick). Every minute it samples the resident memory of
the three processes, the tracker's history cache (which the worker logs each minute) and
the event -> queryable latency of that minute's first batch (posted until its rows are
visible). At the end it prints the samples and, per process, the memory slope after the
warm-up (least squares, MiB per hour), and writes them as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import re
import signal
import socket
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bench.harness import (
    RESULTS_DIR,
    Servers,
    Stack,
    machine,
    own_servers,
    running_stack,
    simulated,
)
from bench.tracker_throughput import BENCH_BROKER, BENCH_CLUSTER
from infra.kafka.broker_config import REPO_ROOT

TICK_SECONDS = 0.1
SAMPLE_SECONDS = 60.0
PROCESSES = ("tracker-0", "ingest", "api")
_CACHE_LINE = re.compile(r"history cache: (\d+) bytes of \d+ consignments \(at most (\d+) bytes\)")


@dataclass
class Sample:
    minute: float
    rss_mib: dict[str, float]
    cache_mib: float | None
    latency_ms: float | None  # the minute's first batch: post -> every row visible
    events_posted: int


@dataclass
class Soak:
    rate: int
    minutes: float
    warm_up_minutes: float
    machine: dict[str, object]
    samples: list[Sample] = field(default_factory=list)
    cache_bound_mib: float | None = None

    def slopes_mib_per_hour(self) -> dict[str, float | None]:
        """Per process, the least-squares slope of RSS over the samples after warm-up."""
        after = [s for s in self.samples if s.minute >= self.warm_up_minutes]
        slopes: dict[str, float | None] = {}
        for name in PROCESSES:
            points = [(s.minute, s.rss_mib[name]) for s in after if name in s.rss_mib]
            if len(points) < 2:
                slopes[name] = None
                continue
            slope = statistics.linear_regression(*zip(*points, strict=True)).slope
            slopes[name] = slope * 60
        return slopes

    def table(self) -> str:
        lines = [
            f"soak: {self.rate} events/s for {self.minutes:g} min "
            f"(warm-up {self.warm_up_minutes:g} min)",
            "minute  tracker MiB  ingest MiB  api MiB  cache MiB  latency ms  posted",
        ]
        for s in self.samples:
            rss = [f"{s.rss_mib.get(name, float('nan')):11.1f}" for name in PROCESSES]
            cache = "-" if s.cache_mib is None else f"{s.cache_mib:,.1f}"
            latency = "-" if s.latency_ms is None else f"{s.latency_ms:,.0f}"
            lines.append(
                f"{s.minute:6.1f} {rss[0]} {rss[1]} {rss[2]} {cache:>10} {latency:>11}"
                f" {s.events_posted:>7,}"
            )
        for name, slope in self.slopes_mib_per_hour().items():
            shown = "n/a (too few samples after warm-up)" if slope is None else f"{slope:+.1f}"
            lines.append(f"{name} RSS slope after warm-up: {shown} MiB/h")
        if self.cache_bound_mib is not None:
            lines.append(f"tracker cache bound: {self.cache_bound_mib:,.0f} MiB (estimated bytes)")
        return "\n".join(lines)


def rss_mib(pid: int) -> float | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def last_cache_report(log: Path) -> tuple[float, float] | None:
    """The tracker's last report of its history cache: (MiB held, MiB at most)."""
    found = _CACHE_LINE.findall(log.read_text(errors="replace")) if log.is_file() else []
    return (int(found[-1][0]) / 1024**2, int(found[-1][1]) / 1024**2) if found else None


def batches(rate: int, minutes: float) -> Iterator[tuple[list[str], str]]:
    """(event ids, JSON body) per tick, rendered as the run goes (not all up front)."""
    per_tick = max(1, round(rate * TICK_SECONDS))
    total = per_tick * round(minutes * 60 / TICK_SECONDS)
    # The simulation emits at least `total`; the rest is not posted.
    deliveries = (
        d for _, d in zip(range(total), simulated(total, seed=7).deliveries, strict=False)
    )
    while True:
        chunk = [d for _, d in zip(range(per_tick), deliveries, strict=False)]
        if not chunk:
            return
        yield [str(d.event.event_id) for d in chunk], "[" + ",".join(d.json() for d in chunk) + "]"


async def visible_after(database_url: str, ids: list[str], posted: float, within: float) -> float:
    """Milliseconds from `posted` until every one of `ids` is a row (or `within` passed)."""
    deadline = posted + within
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            cursor = await conn.execute(
                "SELECT count(DISTINCT event_id) FROM transit_events"
                " WHERE event_id = ANY(%s::uuid[])",
                (ids,),
            )
            row = await cursor.fetchone()
            if row is not None and row[0] == len(set(ids)):
                return (time.monotonic() - posted) * 1000
            await asyncio.sleep(0.05)
    raise SystemExit(f"a batch was not visible {within:g} s after it was posted")


async def soak(stack: Stack, rate: int, minutes: float, warm_up: float) -> Soak:
    result = Soak(rate, minutes, warm_up, machine())
    headers = {"Authorization": f"Bearer {stack.keys['publisher']}"}
    probes: list[asyncio.Task[float]] = []
    posted = 0
    async with httpx.AsyncClient(base_url=stack.ingest_url, headers=headers, timeout=30) as client:
        started = time.monotonic()
        next_sample = started
        for tick, (ids, body) in enumerate(batches(rate, minutes)):
            now = time.monotonic()
            if now >= next_sample:
                await _sample(stack, result, probes, started, posted)
                probes.append(asyncio.create_task(visible_after(stack.database_url, ids, now, 120)))
                next_sample += SAMPLE_SECONDS
            response = await client.post("/v1/events", content=body)
            if response.status_code not in (200, 202):
                raise SystemExit(f"ingest answered {response.status_code}: {response.text[:200]}")
            posted += len(ids)
            stack.check_alive()
            await asyncio.sleep(max(0.0, started + (tick + 1) * TICK_SECONDS - time.monotonic()))
        await _sample(stack, result, probes, started, posted)  # the end: memory only
    return result


async def _sample(
    stack: Stack, result: Soak, probes: list[asyncio.Task[float]], started: float, posted: int
) -> None:
    # The previous minute's probe has long finished unless the tracker fell behind.
    if probes and result.samples:
        result.samples[-1].latency_ms = await probes[-1]
    rss = {
        name: value
        for name in PROCESSES
        if (value := rss_mib(stack.processes[name].pid)) is not None
    }
    cache = last_cache_report(stack.run_dir / "tracker-0.log")
    if cache is not None:
        result.cache_bound_mib = cache[1]
    minute = (time.monotonic() - started) / 60
    result.samples.append(Sample(minute, rss, cache[0] if cache else None, None, posted))
    print(f"minute {minute:.1f}: {rss} cache {cache} posted {posted:,}", flush=True)


def _free_port_pair() -> int:
    """A free loopback port whose successor is free too (a broker's controller port)."""
    for _ in range(100):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port: int = first.getsockname()[1]
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise SystemExit("no two consecutive free ports")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="how long (default 30)")
    parser.add_argument("--rate", type=int, default=500, help="events/s (default 500)")
    parser.add_argument(
        "--warm-up",
        type=float,
        default=12.0,
        help="minutes left out of the slope (default 12: the tracker's history cache fills "
        "its TRACKER_CACHE_MIB first)",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    return parser.parse_args(argv)


async def run(servers: Servers, rate: int, minutes: float, warm_up: float) -> Soak:
    async with running_stack(servers, tracker_log_level="info") as stack:
        return await soak(stack, rate, minutes, warm_up)


def main(argv: list[str] | None = None) -> None:
    # As SystemExit the run unwinds, stopping the processes and servers it started.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    args = parse(argv)
    broker_port = _free_port_pair()
    broker = dataclasses.replace(
        BENCH_BROKER,
        port=broker_port,
        controller_port=broker_port + 1,
        run_dir=REPO_ROOT / ".run" / "kafka-soak",
    )
    cluster = dataclasses.replace(BENCH_CLUSTER, name="soak", port=_free_port_pair())
    with own_servers(broker, cluster) as servers:
        result = asyncio.run(run(servers, args.rate, args.minutes, args.warm_up))
    print(result.table())
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.results_dir / f"soak-{stamp}.json"
    path.write_text(
        json.dumps(
            {**asdict(result), "slopes_mib_per_hour": result.slopes_mib_per_hour()}, indent=2
        )
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
