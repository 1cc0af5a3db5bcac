"""The whole system measured end to end: servers, stack processes, scenarios, one table.

`python -m bench` drives this module. It brings up a Kafka broker and a PostgreSQL
cluster of its own (the ports of `bench.tracker_throughput`, so there is one set of
benchmark ports), or uses the servers it is given, then runs ingest, a tracker worker and
the API as real processes, exactly as `make up` does (`--tracker-workers N` runs N tracker
workers sharing the partitions, as a deployment on more cores would), and measures:

* end-to-end throughput: simulated events posted to ingest until they are rows in the
  database (the tracker writes an event's row and its consignment's timeline in one
  transaction, so a visible event row is a queryable timeline);
* the tracker alone and the bare aiokafka + COPY baseline over the same topic
  (`bench.tracker_throughput`), and their ratio;
* event-to-queryable latency at a steady rate;
* ingest single-POST latency (`bench.ingest_latency`) and API latency
  (`bench.api_latency`) against the same processes and data;
* the tracker workers' resident memory after the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from bench import api_latency, cpu, ingest_latency, tracker_throughput
from bench.rows import RowWatch
from corridor.reference import load_reference
from infra.kafka.broker import StartOutcome
from infra.kafka.broker_config import BrokerConfig
from infra.kafka.cluster import KafkaCluster
from infra.kafka.topics import ensure_topics, topic_specs
from infra.postgres.cluster import ClusterConfig, PostgresCluster
from infra.postgres.cluster import StartOutcome as ClusterStart
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator import SimulationConfig, SimulationResult, simulate
from storage.db import create_pool
from storage.kpi_refresh import refresh_kpi_views
from storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / "bench" / "results"
EVENTS_PER_CONSIGNMENT = tracker_throughput.EVENTS_PER_CONSIGNMENT
INGEST_BATCH = 500
INGEST_CLIENTS = 4
STEADY_FIRST_SERIAL = 700_001  # past any catch-up run's ids (10M events: ~400k)
LATENCY_TICK_SECONDS = 0.05  # a steady rate is posted as one small batch per tick
POLL_SECONDS = 0.02  # how often the latency probe looks for newly visible rows
# ~25 events each: ~3,750 events a day. A denser corridor puts more journeys under way at
# once, and the tracker rebuilds each one more often (docs/benchmarks.md, "Density").
CONSIGNMENTS_A_DAY = 150


@dataclass(frozen=True)
class Scale:
    """How big a run is; `QUICK` only proves the harness works."""

    events: int = 100_000
    rate: int = 1_000
    duration: float = 30.0
    singles: int = 300
    api_requests: int = 200
    timeout: float = 3_600.0
    tracker_workers: int = 1  # tracker processes sharing the partitions
    ceiling: bool = True  # also time the two Faust ceiling agents (two more passes over the topic)
    catch_up: bool = True  # also time the tracker alone over the filled topic (one more)

    @property
    def consignments(self) -> int:
        return max(1, self.events // EVENTS_PER_CONSIGNMENT)


QUICK = Scale(events=1_200, rate=200, duration=3.0, singles=20, api_requests=10, timeout=300.0)


@dataclass(frozen=True)
class Row:
    figure: str
    value: float
    unit: str
    note: str = ""


@dataclass
class Report:
    scale: Scale
    machine: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def add(self, figure: str, value: float, unit: str, note: str = "") -> None:
        self.rows.append(Row(figure, value, unit, note))

    def table(self) -> str:
        width = max(len(r.figure) for r in self.rows)
        lines = [f"{'figure':<{width}}  {'value':>12}  unit      note"]
        for r in self.rows:
            lines.append(f"{r.figure:<{width}}  {r.value:>12,.2f}  {r.unit:<8}  {r.note}".rstrip())
        m = self.machine
        lines.append(
            f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']:.1f} GiB, "
            f"Python {m['python']}; asked for {self.scale.events:,} events"
        )
        lines += [f"FAILED {failure}" for failure in self.failures]
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "at": datetime.now(UTC).isoformat(),
            "machine": self.machine,
            "scale": {**asdict(self.scale), "consignments": self.scale.consignments},
            "rows": [asdict(r) for r in self.rows],
            "failures": self.failures,
        }


def machine() -> dict[str, Any]:
    memory_kib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": ingest_latency._cpu_model(),
        "memory_gib": memory_kib / 1024 / 1024,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ----------------------------------------------------------------------------- servers


@dataclass(frozen=True)
class Servers:
    bootstrap: str
    server_dsn: str  # the maintenance database; scratch databases are made beside it
    # Of the tracker's changelog: 3 on a cluster; for servers given, as the environment says.
    replication_factor: int = field(
        default_factory=lambda: int(os.environ.get("KAFKA_REPLICATION_FACTOR", "1"))
    )

    @functools.cached_property
    def processes(self) -> cpu.Servers | None:
        """Their processes, when they run on this machine: for the CPU accounting."""
        if not cpu.available():
            return None
        database_port = int(conninfo_to_dict(self.server_dsn).get("port") or 5432)
        # On a cluster, the first node's (the others' CPU is not counted).
        broker_port = int(self.bootstrap.split(",")[0].rsplit(":", 1)[1])
        return cpu.Servers.listening_on(database_port, broker_port)

    def fresh_database(self, name: str) -> str:
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        dsn = make_conninfo(self.server_dsn, dbname=name)
        migrate(dsn)
        return dsn

    def drop_database(self, name: str) -> None:
        with psycopg.connect(self.server_dsn, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextlib.contextmanager
def own_servers(
    broker_config: BrokerConfig = tracker_throughput.BENCH_BROKER,
    cluster_config: ClusterConfig = tracker_throughput.BENCH_CLUSTER,
) -> Iterator[Servers]:
    """The benchmark's Kafka (`KAFKA_BROKERS=3`: a 3-node KRaft cluster, topics at
    replication factor 3) and PostgreSQL; stops at the end only what this call started."""
    brokers = int(os.environ.get("KAFKA_BROKERS", "1"))
    if brokers > 1:  # its own run dir: a single broker's files are not a node's
        broker_config = dataclasses.replace(
            broker_config,
            run_dir=broker_config.run_dir.with_name(f"{broker_config.run_dir.name}-{brokers}"),
        )
    broker = KafkaCluster(broker_config, brokers)
    cluster = PostgresCluster(cluster_config)
    launched = asyncio.run(broker.start(fresh_data=True))
    started = ClusterStart.ALREADY_RUNNING
    try:
        started = cluster.start()
        asyncio.run(broker.wait_healthy(timeout=180))
        cluster.wait_ready(timeout=60)
        yield Servers(broker.bootstrap_servers, cluster.dsn("postgres"), broker.replication_factor)
    finally:
        if started is ClusterStart.STARTED:
            cluster.stop()
        if launched is StartOutcome.LAUNCHED:
            broker.stop()


# ------------------------------------------------------------------------------- stack


@dataclass
class Stack:
    """Ingest, the tracker workers and the API as processes, on free ports."""

    servers: Servers
    database_url: str
    prefix: str
    run_dir: Path
    tracker_workers: int = 1
    tracker_log_level: str = "warn"
    ingest_url: str = ""
    api_url: str = ""
    keys: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def events_topic(self) -> str:
        return f"{self.prefix}transit-events"

    def env(self) -> dict[str, str]:
        ingest, api = free_port(), free_port()
        self.ingest_url, self.api_url = f"http://127.0.0.1:{ingest}", f"http://127.0.0.1:{api}"
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.servers.bootstrap,
            "KAFKA_TOPIC_PREFIX": self.prefix,
            "KAFKA_REPLICATION_FACTOR": str(self.servers.replication_factor),
            "DATABASE_URL": self.database_url,
            "INGEST_PORT": str(ingest),
            "API_PORT": str(api),
            "API_PUBLIC_BASE_URL": self.api_url,
            # The production tracker: rocksdb tables, default batch size and window.
            "TRACKER_APP_ID": f"tracker-bench-e2e-{uuid.uuid4().hex[:6]}",
        }

    @property
    def tracker_names(self) -> list[str]:
        return [f"tracker-{n}" for n in range(self.tracker_workers)]

    def start(self) -> None:
        env = self.env()
        commands = [("ingest", ["services.ingest"], env), ("api", ["services.api"], env)]
        for name in self.tracker_names:
            # One consumer group (TRACKER_APP_ID); each worker its own store and web port.
            worker_env = {
                **env,
                "TRACKER_DATA_DIR": str(self.run_dir / name),
                "TRACKER_WEB_PORT": str(free_port()),
            }
            Path(worker_env["TRACKER_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
            commands.append(
                (name, ["services.tracker", "worker", "-l", self.tracker_log_level], worker_env)
            )
        for name, module, process_env in commands:
            with (self.run_dir / f"{name}.log").open("ab") as log:
                self.processes[name] = subprocess.Popen(  # noqa: S603 (our own modules)
                    [sys.executable, "-m", *module],
                    cwd=REPO_ROOT,
                    env=process_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )

    def stop(self) -> None:
        for process in self.processes.values():
            process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise SystemExit(f"{name} exited; see {self.run_dir / (name + '.log')}")

    async def wait_ready(self, within: float = 120.0) -> None:
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(timeout=2) as client:
            for url in (self.ingest_url, self.api_url):
                while True:
                    self.check_alive()
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{url}/readyz")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{url} not ready within {within:g}s; see {self.run_dir}")
                    await asyncio.sleep(0.25)

    def tracker_memory_mib(self) -> tuple[float, float]:
        """Resident and peak resident memory of the tracker workers together, MiB."""
        rss = peak = 0.0
        for name in self.tracker_names:
            status = Path(f"/proc/{self.processes[name].pid}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss += int(fields["VmRSS"].split()[0]) / 1024
            peak += int(fields["VmHWM"].split()[0]) / 1024
        return rss, peak

    def workers_note(self) -> str:
        return "" if self.tracker_workers == 1 else f"{self.tracker_workers} workers together; "


async def issue_keys(database_url: str) -> dict[str, str]:
    everywhere = tuple(location.code for location in load_reference().locations)
    async with create_pool(database_url, min_size=1, max_size=1) as pool:
        _, publisher = await issue_key(pool, Role.PUBLISHER, "bench publisher", everywhere)
        _, operator = await issue_key(pool, Role.OPERATOR, "bench operator")
    return {"publisher": publisher, "operator": operator}


def simulated(events: int, seed: int, first_serial: int = 1) -> SimulationResult:
    """A clean run of at least `events` events, at the same traffic density (consignments
    a day) at every scale, so that growing the run grows the data, not the congestion."""
    # Journeys cut off by the window's end emit fewer events than complete ones.
    consignments = max(2, events // 25)
    days = max(10.0, consignments / CONSIGNMENTS_A_DAY)
    return simulate(
        SimulationConfig(
            seed=seed,
            consignments=consignments,
            days=days,
            start=ending_by(days),
            first_serial=first_serial,
        )
    )


def ending_by(days: float, now: datetime | None = None) -> datetime:
    """A start (a UTC midnight) whose `days`-long window ends before today: ingest refuses
    events more than a few minutes in the future, and a 10M run spans years."""
    today = (now or datetime.now(UTC)).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=math.ceil(days) + 1)


def spool_bodies(result: SimulationResult, limit: int, path: Path) -> int:
    """Write up to `limit` events' JSON to `path`, one per line, before any timing starts;
    on disk rather than in memory, so a 10M-event run needs no 10 GB list."""
    written = 0
    with path.open("w", encoding="utf-8") as spool:
        for delivery in result.deliveries:
            if written >= limit:
                break
            spool.write(delivery.json() + "\n")
            written += 1
    return written


def spooled_batches(path: Path, size: int = INGEST_BATCH) -> Iterator[list[str]]:
    with path.open(encoding="utf-8") as spool:
        while batch := [line.rstrip("\n") for line in itertools.islice(spool, size)]:
            yield batch


def stored_events(database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM transit_events").fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- scenarios


async def post_all(
    client: httpx.AsyncClient, batches: Iterator[Sequence[str]], clients: int = INGEST_CLIENTS
) -> int:
    """Post the batches from `clients` concurrent senders; returns accepted events."""
    accepted = 0

    async def sender() -> None:
        nonlocal accepted
        # One iterator shared by the senders: each batch is taken by exactly one of them.
        for batch in batches:
            response = await client.post("/v1/events", content="[" + ",".join(batch) + "]")
            response.raise_for_status()
            accepted += int(response.json()["accepted"])

    await asyncio.gather(*(sender() for _ in range(clients)))
    return accepted


async def wait_for_rows(stack: Stack, at_least: int, within: float) -> float:
    """Seconds on the monotonic clock when the database came to hold `at_least` event rows
    (the last one's commit, see `bench.rows`)."""
    started = time.monotonic()
    deadline = started + within
    conn = await asyncio.to_thread(lambda: psycopg.connect(stack.database_url, autocommit=True))
    try:
        watch = RowWatch(conn, at_least)
        while time.monotonic() < deadline:
            if await asyncio.to_thread(watch.reached):
                finished_at = await asyncio.to_thread(watch.finished_at)
                return time.monotonic() - (time.time() - finished_at)
            stack.check_alive()
            elapsed = time.monotonic() - started
            await asyncio.sleep(
                tracker_throughput.POLL_SECONDS
                if watch.cheap
                else tracker_throughput.poll_interval(elapsed)
            )
    finally:
        conn.close()
    raise SystemExit(f"fewer than {at_least} rows after {within:g}s; see {stack.run_dir}")


async def end_to_end(stack: Stack, scale: Scale, report: Report) -> SimulationResult:
    result = simulated(scale.events, seed=1)
    spool = stack.run_dir / "events.ndjson"
    spool_bodies(result, scale.events, spool)
    before = await asyncio.to_thread(stored_events, stack.database_url)
    headers = {"Authorization": f"Bearer {stack.keys['publisher']}"}
    try:
        async with httpx.AsyncClient(
            base_url=stack.ingest_url, headers=headers, timeout=60
        ) as client:
            started = time.monotonic()
            accepted = await post_all(client, spooled_batches(spool))
            posted = time.monotonic()
    finally:
        spool.unlink(missing_ok=True)
    queryable = await wait_for_rows(stack, before + accepted, scale.timeout)
    report.add(
        "end-to-end: ingest -> queryable rows",
        accepted / (queryable - started),
        "events/s",
        f"{accepted:,} events, {INGEST_CLIENTS} clients x {INGEST_BATCH}-event POSTs",
    )
    report.add(
        "ingest: accepted into Kafka (acks=all)",
        accepted / (posted - started),
        "events/s",
        "same run, until the last 2xx",
    )
    rss, peak = stack.tracker_memory_mib()
    report.add(
        "tracker RSS after the end-to-end run",
        rss,
        "MiB",
        f"{stack.workers_note()}peak {peak:,.0f} MiB; "
        f"{result.summary.consignments:,} consignments' events, rocksdb",
    )
    return result


async def tracker_against_baseline(stack: Stack, events: int, scale: Scale, report: Report) -> None:
    """The lead's tracker-vs-baseline measurement, over the topic the stack just filled.
    Without `scale.catch_up` only the baseline runs: the end-to-end rate is then the
    tracker's figure against it (a 10M catch-up is another hour on this machine)."""
    servers = stack.servers
    baseline_db = f"bench_baseline_{uuid.uuid4().hex[:6]}"
    tracker_db = f"bench_tracker_{uuid.uuid4().hex[:6]}"
    store_ceiling_db = f"bench_store_ceiling_{uuid.uuid4().hex[:6]}"
    ceiling = store_ceiling = tracker = None

    async def run_baseline() -> tracker_throughput.PathRun:
        try:
            return await tracker_throughput.run_baseline(
                servers.bootstrap,
                stack.events_topic,
                servers.fresh_database(baseline_db),
                events,
                servers.processes,
            )
        finally:  # before the next path: its autovacuum must not run on their cores
            servers.drop_database(baseline_db)

    try:
        baseline = await run_baseline()
        if scale.ceiling:
            ceiling = await asyncio.to_thread(
                tracker_throughput.run_faust_ceiling,
                servers.bootstrap,
                stack.events_topic,
                events,
                scale.timeout,
                None,
                servers.processes,
            )
            store_ceiling = await asyncio.to_thread(
                tracker_throughput.run_faust_ceiling,
                servers.bootstrap,
                stack.events_topic,
                events,
                scale.timeout,
                servers.fresh_database(store_ceiling_db),
                servers.processes,
            )
        if scale.catch_up:
            tracker = await asyncio.to_thread(
                tracker_throughput.run_tracker,
                servers.bootstrap,
                stack.prefix,
                servers.fresh_database(tracker_db),
                events,
                scale.timeout,
                scale.tracker_workers,
                servers.processes,
            )
            servers.drop_database(tracker_db)
            # Measured again after the others, as the machine's speed drifts (see `faster`).
            baseline = tracker_throughput.faster(baseline, await run_baseline())
    finally:
        servers.drop_database(tracker_db)
        servers.drop_database(store_ceiling_db)
    baseline_rate = events / baseline.seconds
    workers = f"{scale.tracker_workers} workers" if scale.tracker_workers > 1 else ""
    if tracker is not None:
        report.add(
            "tracker alone: topic -> rows (catch-up)", events / tracker.seconds, "events/s", workers
        )
    report.add(
        "baseline: bare aiokafka consumer + COPY",
        baseline_rate,
        "events/s",
        "the faster of a run before and one after the tracker" if tracker is not None else "",
    )
    if ceiling is not None:
        report.add(
            "ceiling: Faust agent taking events, no work", events / ceiling.seconds, "events/s"
        )
    if store_ceiling is not None:
        report.add(
            "ceiling: Faust agent decoding, storing raw rows",
            events / store_ceiling.seconds,
            "events/s",
            "no domain logic: the least a tracker must do",
        )
    if tracker is not None:
        ratio = (events / tracker.seconds) / baseline_rate
        goal = f"goal >= {tracker_throughput.GOAL_RATIO} {workers}".rstrip()
        report.add("ratio tracker / baseline", ratio, "x", goal)
    if ceiling is not None:
        report.add(
            "ratio Faust ceiling / baseline",
            (events / ceiling.seconds) / baseline_rate,
            "x",
            "the most any Faust agent reached here",
        )
    if store_ceiling is not None:
        report.add(
            "ratio decode+store ceiling / baseline",
            (events / store_ceiling.seconds) / baseline_rate,
            "x",
            "the most a Faust tracker that validates and stores events could reach here",
        )
    end_to_end_rate = next(r.value for r in report.rows if r.figure.startswith("end-to-end"))
    report.add("ratio end-to-end / baseline", end_to_end_rate / baseline_rate, "x")
    _report_cpu(
        report,
        events,
        baseline_rate,
        {
            "baseline": baseline,
            "ceiling": ceiling,
            "store_ceiling": store_ceiling,
            "tracker": tracker,
        },
    )


def _report_cpu(
    report: Report,
    events: int,
    baseline_rate: float,
    runs: Mapping[str, tracker_throughput.PathRun | None],
) -> None:
    """CPU per event of each path run (by `tracker_throughput.PATH_LABELS` key; all
    processes of the machine), and the cores the tracker's goal rate would keep busy at
    the tracker's measured cost."""
    for path, label in tracker_throughput.PATH_LABELS.items():
        run = runs.get(path)
        if run is None or run.cost is None:
            continue
        per = run.cost.per_event_us(events)
        parts = ", ".join(
            f"{part} {'not measured' if per[part] is None else f'{per[part]:.0f}'}"
            for part in ("consumer", "database", "broker")
        )
        report.add(
            f"CPU per event: {label}",
            1e6 * run.cost.machine / events,
            "us",
            f"{parts}; {run.cost.machine / run.seconds:.2f} cores busy",
        )
    tracker = runs.get("tracker")
    if tracker is not None and tracker.cost is not None:
        report.add(
            "cores the tracker's goal rate needs",
            tracker_throughput.cores_at_goal(tracker.cost, events, baseline_rate),
            "cores",
            f"{tracker_throughput.GOAL_RATIO} x baseline at the measured CPU per event;"
            f" this machine has {os.cpu_count()}",
        )


async def steady_latency(stack: Stack, scale: Scale, report: Report) -> None:
    """Post `rate` events/s for `duration` s; time each event until its row is visible."""
    per_tick = max(1, round(scale.rate * LATENCY_TICK_SECONDS))
    ticks = max(1, round(scale.duration / LATENCY_TICK_SECONDS))
    # Its consignments must not be the catch-up's: another carrier's event for a known
    # consignment is refused (409).
    result = simulated(per_tick * ticks, seed=2, first_serial=STEADY_FIRST_SERIAL)
    deliveries = [d for _, d in zip(range(per_tick * ticks), result.deliveries, strict=False)]
    # Rendered up front: the sender and the probe share this event loop, and must stay idle.
    batches = [
        (
            [str(d.event.event_id) for d in deliveries[i : i + per_tick]],
            "[" + ",".join(d.json() for d in deliveries[i : i + per_tick]) + "]",
        )
        for i in range(0, len(deliveries), per_tick)
    ]
    posted: dict[str, float] = {}
    visible: dict[str, float] = {}
    failures: list[str] = []
    headers = {"Authorization": f"Bearer {stack.keys['publisher']}"}

    async def post(client: httpx.AsyncClient, ids: list[str], body: str) -> None:
        stamp = time.monotonic()
        for event_id in ids:
            posted[event_id] = stamp
        response = await client.post("/v1/events", content=body)
        if response.status_code != 202 and response.status_code != 200:
            failures.append(f"HTTP {response.status_code}: {response.text[:200]}")

    async def probe(done: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(
            stack.database_url, autocommit=True
        ) as conn:
            while not done.is_set() or len(visible) < len(posted):
                pending = [i for i in posted if i not in visible]
                if pending:
                    cursor = await conn.execute(
                        "SELECT event_id::text FROM transit_events"
                        " WHERE event_id = ANY(%s::uuid[])",
                        (pending,),
                    )
                    now = time.monotonic()
                    for (event_id,) in await cursor.fetchall():
                        visible.setdefault(event_id, now)
                if done.is_set() and time.monotonic() > deadline:
                    break
                await asyncio.sleep(POLL_SECONDS)

    deadline = time.monotonic() + scale.duration + 120
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=stack.ingest_url, headers=headers, timeout=30) as client:
        prober = asyncio.create_task(probe(done))
        senders: list[asyncio.Task[None]] = []
        started = time.monotonic()
        for tick, (ids, body) in enumerate(batches):
            senders.append(asyncio.create_task(post(client, ids, body)))
            await asyncio.sleep(
                max(0.0, started + (tick + 1) * LATENCY_TICK_SECONDS - time.monotonic())
            )
        await asyncio.gather(*senders)
        sent_for = time.monotonic() - started
        done.set()
        await prober
    if failures:
        raise SystemExit(f"the steady-rate posts failed: {failures[:3]}")
    latencies = sorted((visible[i] - posted[i]) * 1000 for i in visible)
    if len(latencies) < len(posted):
        seen = (
            f"p50 of the {len(latencies):,} seen: {_percentile(latencies, 0.5):,.0f} ms"
            if latencies
            else "none seen"
        )
        raise SystemExit(
            f"{len(posted) - len(latencies):,} of {len(posted):,} events were not visible "
            f"{scale.duration + 120:g} s after the first post ({seen}): the tracker fell behind"
        )
    note = f"{len(posted) / sent_for:,.0f} events/s for {sent_for:.0f} s, {per_tick}-event POSTs"
    report.add("event -> queryable latency p50", _percentile(latencies, 0.50), "ms", note)
    report.add("event -> queryable latency p99", _percentile(latencies, 0.99), "ms", note)


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def ingest_singles(stack: Stack, scale: Scale, report: Report) -> None:
    headers = {
        "Authorization": f"Bearer {stack.keys['publisher']}",
        "Content-Type": "application/json",
    }
    async with httpx.AsyncClient(base_url=stack.ingest_url, headers=headers, timeout=30) as client:
        await ingest_latency._singles(client, min(50, scale.singles))  # warm-up
        latencies = sorted(await ingest_latency._singles(client, scale.singles))
    note = f"{scale.singles} sequential single-event POSTs, key looked up in PostgreSQL"
    report.add("ingest POST p50", _percentile(latencies, 0.5) * 1000, "ms", note)
    report.add("ingest POST p99", _percentile(latencies, 0.99) * 1000, "ms", note)


async def api_latencies(
    stack: Stack, result: SimulationResult, scale: Scale, report: Report
) -> None:
    async with await psycopg.AsyncConnection.connect(stack.database_url, autocommit=True) as conn:
        await refresh_kpi_views(conn)
    with psycopg.connect(stack.database_url) as conn:
        ids = [row[0] for row in conn.execute("SELECT consignment_id FROM consignments")]
    begin = result.truth.start
    end = min(result.truth.end, begin + timedelta(days=365))
    timings, _ = await api_latency.measure(
        stack.api_url,
        stack.keys["operator"],
        ids,
        begin.isoformat().replace("+00:00", "Z"),
        end.isoformat().replace("+00:00", "Z"),
        scale.api_requests,
    )
    note = f"{scale.api_requests} sequential requests"
    for name, samples in timings.items():
        ordered = sorted(samples)
        report.add(f"API {name} p50", _percentile(ordered, 0.5), "ms", note)
        report.add(f"API {name} p99", _percentile(ordered, 0.99), "ms", note)


# ---------------------------------------------------------------------------------- run


@contextlib.asynccontextmanager
async def running_stack(
    servers: Servers, workers: int = 1, tracker_log_level: str = "warn"
) -> AsyncIterator[Stack]:
    name = f"bench_e2e_{uuid.uuid4().hex[:6]}"
    run_dir = REPO_ROOT / ".run" / "bench" / name
    run_dir.mkdir(parents=True, exist_ok=True)
    database_url = await asyncio.to_thread(servers.fresh_database, name)
    prefix = f"bench.{uuid.uuid4().hex[:6]}."
    await ensure_topics(servers.bootstrap, topic_specs(prefix))
    stack = Stack(
        servers,
        database_url,
        prefix,
        run_dir,
        workers,
        tracker_log_level,
        keys=await issue_keys(database_url),
    )
    try:
        stack.start()
        await stack.wait_ready()
        yield stack
    finally:
        stack.stop()
        await asyncio.to_thread(servers.drop_database, name)


async def run(servers: Servers, scale: Scale) -> Report:
    """Every scenario in turn; one that fails is recorded and the others still run."""
    report = Report(scale, machine())
    async with running_stack(servers, scale.tracker_workers) as stack:
        result = await end_to_end(stack, scale, report)
        events = await asyncio.to_thread(stored_events, stack.database_url)
        scenarios: list[tuple[str, Awaitable[None]]] = [
            ("tracker vs baseline", tracker_against_baseline(stack, events, scale, report)),
            ("steady-rate latency", steady_latency(stack, scale, report)),
            ("ingest latency", ingest_singles(stack, scale, report)),
            ("API latency", api_latencies(stack, result, scale, report)),
        ]
        for name, scenario in scenarios:
            try:
                await scenario
            except (SystemExit, Exception) as exc:  # reported in the table, not hidden
                report.failures.append(f"{name}: {exc}")
        rss, peak = stack.tracker_memory_mib()
        report.add(
            "tracker RSS at the end", rss, "MiB", f"{stack.workers_note()}peak {peak:,.0f} MiB"
        )
    return report


def save(report: Report, results_dir: Path = RESULTS_DIR) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"bench-{stamp}-{report.scale.events}.json"
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return path
