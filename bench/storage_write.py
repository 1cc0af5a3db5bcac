"""Write throughput of ``WriteRepository.insert_events`` (COPY → staging → INSERT ON CONFLICT)
against a raw ``COPY`` into the same table, in the same run, on the same database.

    python -m bench.storage_write --events 1000000 [--batch 10000] [--dsn URL]

Without ``--dsn``/``DATABASE_URL`` it starts (or reuses) the dev cluster of
``python -m infra.postgres up``. Either way it works in a scratch database it drops after.
Both paths include mapping events to rows (fingerprint, JSON); event generation is not timed.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import typer
from psycopg import sql
from psycopg.conninfo import make_conninfo

from corridor.events import EventType, References, Source, SourceSystem, TransitEvent
from storage.db import create_pool
from storage.migrate import migrate
from storage.rows import EventRow, event_row
from storage.writes import WriteRepository

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LOCATIONS = ("CN-KHORGOS", "KZ-NUR-ZHOLY", "KZ-AKTAU", "AZ-ALAT", "GE-RED-BRIDGE", "TR-SARP")
TYPES = (EventType.GATE_ARRIVED, EventType.GATE_RELEASED, EventType.GATE_DEPARTED)


def synthetic_events(count: int, batch: int, seed: str) -> Iterator[list[TransitEvent]]:
    """Batches of plausible gate events: 6 locations x 3 events per consignment."""
    namespace = uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{seed}")
    produced = 0
    while produced < count:
        size = min(batch, count - produced)
        events = []
        for n in range(produced, produced + size):
            consignment = n // 18
            events.append(
                TransitEvent(
                    event_id=uuid.uuid5(namespace, str(n)),
                    event_type=TYPES[n % 3],
                    occurred_at=T0 + timedelta(minutes=n),
                    location=LOCATIONS[(n // 3) % 6],
                    consignment_id=f"B-{consignment:07d}",
                    carrier_id=f"CARRIER-{consignment % 50:02d}",
                    references=References(vehicle_plates=(f"{consignment % 99:02d}KZ{n % 997}",)),
                    source=Source(system=SourceSystem.GATE),
                )
            )
        produced += size
        yield events


async def time_insert_events(dsn: str, count: int, batch: int) -> tuple[int, float]:
    elapsed, inserted = 0.0, 0
    async with create_pool(dsn, min_size=1, max_size=1) as pool:
        writer = WriteRepository(pool, copy_threshold=1)  # always the batch (COPY) path
        for events in synthetic_events(count, batch, "repository"):
            started = time.perf_counter()
            inserted += await writer.insert_events(events)
            elapsed += time.perf_counter() - started
    return inserted, elapsed


def time_raw_copy(dsn: str, count: int, batch: int) -> tuple[int, float]:
    columns = sql.SQL(", ").join(map(sql.Identifier, EventRow._fields))
    copy_sql = sql.SQL("COPY transit_events ({}) FROM STDIN").format(columns)
    elapsed, copied = 0.0, 0
    with psycopg.connect(dsn) as conn:
        for events in synthetic_events(count, batch, "raw-copy"):
            started = time.perf_counter()
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
                for event in events:
                    copy.write_row(event_row(event))
            elapsed += time.perf_counter() - started
            copied += len(events)
    return copied, elapsed


def _server_dsn() -> str:
    given = os.environ.get("DATABASE_URL")
    if given:
        return given
    from infra.postgres.cluster import PostgresCluster
    from infra.postgres.settings import PostgresHarnessSettings

    cluster = PostgresCluster(PostgresHarnessSettings().cluster_config())
    cluster.start()
    cluster.wait_ready()
    return cluster.dsn("postgres")


def main(
    events: int = typer.Option(1_000_000, help="Events per path."),
    batch: int = typer.Option(10_000, help="Events per insert_events call / COPY."),
    dsn: str | None = typer.Option(None, help="Server to use; defaults to DATABASE_URL."),
) -> None:
    server = dsn or _server_dsn()
    scratch = f"corridor_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
    try:
        database = make_conninfo(server, dbname=scratch)
        migrate(database)
        inserted, repo_seconds = asyncio.run(time_insert_events(database, events, batch))
        copied, copy_seconds = time_raw_copy(database, events, batch)
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch))
            )
    repo_rate, copy_rate = inserted / repo_seconds, copied / copy_seconds
    typer.echo(
        f"insert_events (staging + ON CONFLICT): {inserted:>9} rows {repo_rate:>10,.0f} rows/s"
    )
    typer.echo(
        f"raw COPY into transit_events:          {copied:>9} rows {copy_rate:>10,.0f} rows/s"
    )
    typer.echo(f"ratio insert_events / raw COPY:        {repo_rate / copy_rate:.2f}")


if __name__ == "__main__":
    typer.run(main)
