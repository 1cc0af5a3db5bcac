"""KPI accuracy and latency from the rollups against exact answers, on a simulated year.

    python -m bench.kpi_accuracy [--events 1000000] [--requests 200] [--dsn URL]
                                 [--database NAME]

For ranges of 7, 31, 90 and 365 days from the start of the simulated year, every median
and p90 the API would answer from the rollups (``Percentiles.SKETCH``: dwell per location
and day, dwell per location and week, TFI1 per border and direction, leg travel time and
speeds) is compared with the exact one over the same range (``Percentiles.EXACT``, the
base tables). Prints the largest relative error of each (goal: <= 1 %). Then times the
one-year, every-location weekly report through the API app with its report cache off
(cold: every request reads the database; after five untimed requests open the pool's
connections), p50/p99 (goal: p99 <= 50 ms).

Data: as ``bench.api_latency`` (a simulated year written through the storage path into a
scratch database, dropped at the end unless ``--database`` keeps it for reuse).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bench.api_latency import _recreate, load, percentile, reuse, simulation
from bench.storage_write import _server_dsn
from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest.memory import InMemoryKeyStore
from storage.db import create_pool
from storage.migrate import migrate
from storage.reads import ReadRepository
from storage.views import Granularity, Percentiles

RANGES_DAYS = (7, 31, 90, 365)
GOAL_RELATIVE_ERROR = 0.01
GOAL_P99_MS = 50.0
WARM_UP_REQUESTS = 5


def relative_errors(pairs: Iterable[tuple[float | None, float | None]]) -> list[float]:
    errors = []
    for got, exact in pairs:
        if exact is None or got is None:
            assert got is exact, (got, exact)
            continue
        errors.append(abs(got - exact) / exact if exact else abs(got))
    return errors


async def accuracy(dsn: str, start: datetime) -> list[tuple[int, str, int, float, float]]:
    """Per range and figure: how many values, max relative error of p50 and of p90."""
    out = []
    async with create_pool(dsn, min_size=1, max_size=2) as pool:
        reads = ReadRepository(pool)
        for days in RANGES_DAYS:
            end = start + timedelta(days=days)
            for granularity in (Granularity.DAY, Granularity.WEEK):
                exact = await reads.locations_performance(start, end, granularity)
                rolled = await reads.locations_performance(
                    start, end, granularity, percentiles=Percentiles.SKETCH
                )
                assert [astuple(r)[:5] for r in rolled] == [astuple(r)[:5] for r in exact]
                out.append(_row(days, f"dwell per location/{granularity.value}", rolled, exact))
            crossings = await reads.crossing_performance(start, end)
            crossings_rolled = await reads.crossing_performance(
                start, end, percentiles=Percentiles.SKETCH
            )
            out.append(_row(days, "TFI1 per border/direction", crossings_rolled, crossings))
            legs = await reads.leg_performance(start, end)
            legs_rolled = await reads.leg_performance(start, end, percentiles=Percentiles.SKETCH)
            out.append(_row(days, "leg travel, SWOD, SWD medians", legs_rolled, legs))
    return out


def _row(
    days: int, name: str, rolled: Iterable[object], exact: Iterable[object]
) -> tuple[int, str, int, float, float]:
    rolled_rows, exact_rows = [astuple(r) for r in rolled], [astuple(r) for r in exact]  # type: ignore[call-overload]
    assert len(rolled_rows) == len(exact_rows)
    if name.startswith("leg"):  # three medians, no p90
        medians = relative_errors(
            (g[i], e[i]) for g, e in zip(rolled_rows, exact_rows, strict=True) for i in (4, 5, 6)
        )
        return days, name, len(medians), max(medians, default=0.0), float("nan")
    offset = 6 if name.startswith("dwell") else 5
    medians = relative_errors(
        (g[offset], e[offset]) for g, e in zip(rolled_rows, exact_rows, strict=True)
    )
    p90s = relative_errors(
        (g[offset + 1], e[offset + 1]) for g, e in zip(rolled_rows, exact_rows, strict=True)
    )
    return days, name, len(medians), max(medians, default=0.0), max(p90s, default=0.0)


async def weekly_report_latency(
    dsn: str, start: datetime, requests: int
) -> tuple[float, float, str]:
    """p50 and p99 (ms) of the one-year all-locations weekly report, report cache off."""
    end = start + timedelta(days=365)
    settings = ApiSettings(database_url=dsn, api_kpi_cache_seconds=0)
    store = InMemoryKeyStore()
    key = store.add("bench", Role.OPERATOR)
    async with create_pool(dsn, min_size=1, max_size=4) as pool:
        app = create_app(
            settings,
            reads=ReadRepository(pool),
            key_store=store,
            reference=load_reference(),
            now=lambda: end,
        )
        params = {"from": start.isoformat(), "to": end.isoformat(), "bucket": "week"}
        headers = {"Authorization": f"Bearer {key}"}
        timings = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            for _ in range(WARM_UP_REQUESTS):  # connections and plans, not the report
                await client.get("/v1/performance/locations", params=params, headers=headers)
            for _ in range(requests):
                began = time.perf_counter()
                response = await client.get(
                    "/v1/performance/locations", params=params, headers=headers
                )
                timings.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200, response.text
        label = response.json()["percentiles"]
    return percentile(timings, 50), percentile(timings, 99), label


def main(
    events: int = typer.Option(1_000_000, help="Events to store (a simulated year)."),
    requests: int = typer.Option(200, help="Timed requests of the weekly report."),
    seed: int = typer.Option(1, help="Simulator seed."),
    dsn: str | None = typer.Option(None, help="Server to use; defaults to DATABASE_URL."),
    database_name: str | None = typer.Option(
        None, "--database", help="Keep the loaded data in this database and reuse it."
    ),
    first: str | None = typer.Option(
        None,
        "--start",
        help="First day of the simulated year (YYYY-MM-DD, UTC); default the simulator's. "
        "A year that reaches past today leaves TimescaleDB's real-time aggregation "
        "computing the unmaterialised future weeks on every read.",
    ),
) -> None:
    start = None if first is None else datetime.fromisoformat(first).replace(tzinfo=UTC)
    server = dsn or _server_dsn()
    scratch = database_name or f"corridor_bench_kpi_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (scratch,))
        if exists.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        version = conn.execute("SELECT version()").fetchone()
    database = make_conninfo(server, dbname=scratch)
    try:
        report = migrate(database)
        started = time.perf_counter()
        loaded = asyncio.run(reuse(database, events, seed, start)) if database_name else None
        if loaded is None:
            if database_name:
                _recreate(server, scratch)
                report = migrate(database)
            loaded = asyncio.run(load(database, events, seed, start))
        _, _, _, stored = loaded
        typer.echo(
            f"{stored:,} events on {report.backend.value} ({version[0] if version else '?'}),"
            f" loaded or reused in {time.perf_counter() - started:.0f} s"
        )
        first_day = simulation(events, seed, start).start
        rows = asyncio.run(accuracy(database, first_day))
        p50_ms, p99_ms, label = asyncio.run(weekly_report_latency(database, first_day, requests))
    finally:
        if database_name is None:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(scratch)
                    )
                )
    typer.echo(
        f"\n{'range':>6}  {'figure':32} {'values':>7} {'max err p50':>12} {'max err p90':>12}"
    )
    for days, name, count, median_error, p90_error in rows:
        typer.echo(
            f"{days:>4} d  {name:32} {count:>7} {median_error:>11.4%} "
            + ("           -" if p90_error != p90_error else f"{p90_error:>11.4%}")
        )
    worst = max(max(r[3], 0 if r[4] != r[4] else r[4]) for r in rows)
    typer.echo(
        f"worst relative error {worst:.4%} (goal <= {GOAL_RELATIVE_ERROR:.0%}):"
        f" {'met' if worst <= GOAL_RELATIVE_ERROR else 'NOT met'}"
    )
    typer.echo(
        f"one-year all-locations weekly report, cache off, {requests} requests:"
        f" p50 {p50_ms:.1f} ms, p99 {p99_ms:.1f} ms (percentiles: {label};"
        f" goal p99 <= {GOAL_P99_MS:.0f} ms: {'met' if p99_ms <= GOAL_P99_MS else 'NOT met'})"
    )


if __name__ == "__main__":
    typer.run(main)
