"""API latency with N events stored: p50/p99 of status, timeline and each performance
endpoint over a one-year range, through a real uvicorn process and an httpx client.

    python -m bench.api_latency [--events 1000000] [--requests 300] [--dsn URL]
                                [--database NAME]

Ranges over API_EXACT_PERCENTILES_MAX_DAYS (31) are answered from the rollups (median/p90
from sketches within 1 %, weekly buckets exact); the "31 d" cases time the exact path over
the longest range that still uses it. The `percentiles` column shows which path answered.
Cold figures run the API with its report cache off (API_KPI_CACHE_SECONDS=0: every request reads the
database); warm ones with the cache on (the same query repeated: the cache's best case).

A simulated year (`--events` / ~40 events per consignment) is written through the domain
core and the storage write path (as the tracker does) into a scratch database dropped at
the end. ``--database NAME`` keeps it instead, and a later run with the same ``--events``
and ``--seed`` reuses it (pending migrations applied, aggregates refreshed): loading 1M
events takes minutes, timing them less. Without ``--dsn``/``DATABASE_URL`` it starts (or
reuses) the dev cluster.
Targets at 1M events: status and timeline p99 < 20 ms, performance p99 < 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
import psycopg
import typer
from psycopg import AsyncConnection, sql
from psycopg.conninfo import make_conninfo

from bench.storage_write import _server_dsn
from corridor.alerts import alerts_for_timeline
from corridor.events import TransitEvent
from corridor.reference import load_reference
from corridor.timeline import build_timeline
from services.common.keys import Role, generate_key
from services.tracker.store import new_alert
from simulator import SimulationConfig, simulate
from storage.db import create_pool
from storage.kpi_refresh import refresh_kpi_views
from storage.migrate import migrate
from storage.records import NewApiKey
from storage.views import ApiKeyRole
from storage.writes import WriteRepository

EVENTS_PER_CONSIGNMENT = 40  # what the default simulator mix produces
TARGETS_MS = {"status": 20.0, "timeline": 20.0}
PERFORMANCE_TARGET_MS = 50.0


# corridor_meta key marking a database that holds a whole load (see `--database`).
LOADED_MARK = "bench.api_latency.loaded"


def simulation(
    events_wanted: int, seed: int, first_day: datetime | None = None
) -> SimulationConfig:
    """A simulated year; from the simulator's default start unless ``first_day`` is given."""
    config = SimulationConfig(
        seed=seed, consignments=max(1, events_wanted // EVENTS_PER_CONSIGNMENT), days=365
    )
    return config if first_day is None else config.model_copy(update={"start": first_day})


def year_of(config: SimulationConfig) -> tuple[str, str]:
    """The timed range: the simulated year, as RFC 3339 strings."""
    begin = config.start.isoformat().replace("+00:00", "Z")
    end = (config.start + timedelta(days=365)).isoformat().replace("+00:00", "Z")
    return begin, end


async def load(
    dsn: str, events_wanted: int, seed: int, first_day: datetime | None = None
) -> tuple[list[str], str, str, int]:
    """Simulate a year, store it; return consignment ids, the range and the event count."""
    config = simulation(events_wanted, seed, first_day)
    result = simulate(config)
    groups: dict[str, list[TransitEvent]] = defaultdict(list)
    for delivery in result.deliveries:
        groups[delivery.event.consignment_id].append(delivery.event)
    reference = load_reference()
    ids = list(groups)
    stored = 0
    async with create_pool(dsn, min_size=1, max_size=1) as pool:
        writer = WriteRepository(pool, reference)
        for start in range(0, len(ids), 500):
            chunk = [groups[cid] for cid in ids[start : start + 500]]
            timelines = [build_timeline(events, reference) for events in chunk]
            alerts = [
                new_alert(a, a.occurred_at) for t in timelines for a in alerts_for_timeline(t)
            ]
            events = [e for group in chunk for e in group]
            await writer.write_batch(events, timelines, alerts)
            stored += len(events)
            print(f"\rstored {stored:,} events", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    await refresh_and_analyze(dsn)
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            "INSERT INTO corridor_meta (key, value) VALUES (%s, %s)",
            (LOADED_MARK, _load_label(events_wanted, seed, first_day)),
        )
    return sorted(ids), *year_of(config), stored


async def reuse(
    dsn: str, events_wanted: int, seed: int, first_day: datetime | None = None
) -> tuple[list[str], str, str, int] | None:
    """What `load` returned for a database a previous run kept, or None if it holds no
    whole load of these events and seed."""
    with psycopg.connect(dsn) as conn:
        mark = conn.execute("SELECT value FROM corridor_meta WHERE key = %s", (LOADED_MARK,))
        if mark.fetchone() != (_load_label(events_wanted, seed, first_day),):
            return None
        ids = conn.execute("SELECT consignment_id FROM consignments ORDER BY 1").fetchall()
        stored = conn.execute("SELECT count(*) FROM transit_events").fetchone()
    await refresh_and_analyze(dsn)  # relations a new migration added need their statistics
    stored_count = int(stored[0]) if stored else 0
    year = year_of(simulation(events_wanted, seed, first_day))
    return [str(row[0]) for row in ids], *year, stored_count


async def refresh_and_analyze(dsn: str) -> None:
    async with await AsyncConnection.connect(dsn, autocommit=True) as conn:
        await refresh_kpi_views(conn)
        await conn.execute("VACUUM ANALYZE")


def _load_label(events_wanted: int, seed: int, first_day: datetime | None = None) -> str:
    label = f"events={events_wanted} seed={seed}"
    return label if first_day is None else f"{label} start={first_day.isoformat()}"


async def operator_key(dsn: str) -> str:
    key = generate_key(Role.OPERATOR)
    async with create_pool(dsn, min_size=1, max_size=1) as pool:
        await WriteRepository(pool).insert_api_key(
            NewApiKey("bench", ApiKeyRole.OPERATOR, key.lookup_prefix, key.digest, None, None)
        )
    return key.plain


async def measure(
    base: str,
    key: str,
    ids: list[str],
    begin: str,
    end: str,
    requests: int,
    only_performance: bool = False,
) -> tuple[dict[str, list[float]], dict[str, str]]:
    year = {"from": begin, "to": end}
    month_end = datetime.fromisoformat(begin) + timedelta(days=31)
    month = {"from": begin, "to": month_end.isoformat().replace("+00:00", "Z")}
    rng = random.Random(1)
    cases: dict[str, Callable[[], tuple[str, dict[str, str]]]] = {
        "status": lambda: (f"/v1/consignments/{rng.choice(ids)}", {}),
        "timeline": lambda: (f"/v1/consignments/{rng.choice(ids)}/timeline", {}),
        "performance/locations (all, week)": lambda: (
            "/v1/performance/locations",
            {**year, "bucket": "week"},
        ),
        "performance/locations (one, day)": lambda: (
            "/v1/performance/locations",
            {**year, "bucket": "day", "location": "KZ-NUR-ZHOLY"},
        ),
        "performance/crossings": lambda: ("/v1/performance/crossings", year),
        "performance/legs": lambda: ("/v1/performance/legs", year),
        "performance/locations (all, week, 31 d)": lambda: (
            "/v1/performance/locations",
            {**month, "bucket": "week"},
        ),
        "performance/crossings (31 d)": lambda: ("/v1/performance/crossings", month),
        "performance/legs (31 d)": lambda: ("/v1/performance/legs", month),
    }
    timings: dict[str, list[float]] = {}
    precision: dict[str, str] = {}
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        for name, case in cases.items():
            if only_performance and not name.startswith("performance"):
                continue
            for _ in range(10):  # warm-up: connections, plans, caches
                path, params = case()
                (await client.get(path, params=params)).raise_for_status()
            samples = []
            for _ in range(requests):
                path, params = case()
                started = time.perf_counter()
                response = await client.get(path, params=params)
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            timings[name] = samples
            precision[name] = response.json().get("percentiles", "") if "perf" in name else ""
    return timings, precision


def percentile(samples: list[float], q: float) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


def serve(dsn: str, port: int, cache_seconds: float) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "API_PORT": str(port),
        "DATABASE_POOL_MAX": "8",
        "API_KPI_CACHE_SECONDS": str(cache_seconds),
    }
    return subprocess.Popen(  # our own module and arguments
        [sys.executable, "-m", "services.api"], env=env, stderr=subprocess.DEVNULL
    )


def wait_ready(base: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the API did not become ready at {base}")


def report(timings: dict[str, list[float]], precision: dict[str, str]) -> None:
    header = f"{'endpoint':<40} {'p50 ms':>8} {'p99 ms':>8} {'target p99':>11}  met"
    typer.echo(f"{header}  percentiles")
    for name, samples in timings.items():
        target = TARGETS_MS.get(name, PERFORMANCE_TARGET_MS)
        p50, p99 = percentile(samples, 50), percentile(samples, 99)
        met = "yes" if p99 < target else "no "
        typer.echo(
            f"{name:<40} {p50:>8.1f} {p99:>8.1f} {target:>8.0f} ms  {met}  {precision[name]}"
        )


def main(
    events: int = typer.Option(1_000_000, help="Events to store (a simulated year)."),
    requests: int = typer.Option(300, help="Timed requests per endpoint."),
    port: int = typer.Option(18002, help="Port of the API process."),
    seed: int = typer.Option(1, help="Simulator seed."),
    dsn: str | None = typer.Option(None, help="Server to use; defaults to DATABASE_URL."),
    database_name: str | None = typer.Option(
        None,
        "--database",
        help="Keep the loaded data in this database (not dropped at the end) and reuse it "
        "when it already holds the same --events and --seed.",
    ),
) -> None:
    server = dsn or _server_dsn()
    scratch = database_name or f"corridor_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    database = make_conninfo(server, dbname=scratch)
    process = None
    try:
        migrate(database)
        started = time.perf_counter()
        loaded = asyncio.run(reuse(database, events, seed)) if database_name else None
        if loaded is None:
            if database_name:
                _recreate(server, scratch)
                migrate(database)
            loaded = asyncio.run(load(database, events, seed))
            verb = "stored"
        else:
            verb = f"reused database {scratch!r}:"
        ids, begin, end, stored = loaded
        typer.echo(
            f"{verb} {stored:,} events, {len(ids):,} consignments in "
            f"{time.perf_counter() - started:.0f} s; range {begin} .. {end}"
        )
        key = asyncio.run(operator_key(database))
        base = f"http://127.0.0.1:{port}"
        results: dict[str, tuple[dict[str, list[float]], dict[str, str]]] = {}
        for label, cache_seconds in (
            ("cold, report cache off", 0.0),
            ("warm, cache on (30 s)", 30.0),
        ):
            process = serve(database, port, cache_seconds)
            wait_ready(base)
            results[label] = asyncio.run(
                measure(base, key, ids, begin, end, requests, only_performance=bool(results))
            )
            process.terminate()
            process.wait(timeout=10)
            process = None
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=10)
        if database_name is None:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(scratch)
                    )
                )
    for label, (timings, precision) in results.items():
        typer.echo(f"\n{label}")
        report(timings, precision)
    typer.echo(f"({stored:,} events, {requests} requests each, sequential, one client)")


def _recreate(server: str, name: str) -> None:
    """An empty database ``name`` (a kept one without a whole load of this size: start over)."""
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    typer.run(main)
