"""Tracker throughput, topic to database rows, against a bare-consumer baseline.

    python -m bench.tracker_throughput --events 1000000

Both runs read the same events from the same topic into fresh databases on this
machine. The baseline is a bare aiokafka consumer that COPYs the raw events into
`transit_events` with no domain logic; the tracker does everything it does in
production (timelines, stays, crossings, legs, alerts, changelogged state). The
ratio tracker / baseline is the figure to watch (goal: at least 0.5).

Two more paths run `bench.faust_ceiling`, a Faust agent over the same topic that takes
the events exactly as the tracker's agent does: once doing nothing with them (the
stream framework's own ceiling on this machine), and once decoding and storing the raw
events with no domain logic (the least any correct tracker must do). A third,
`bench.plain_tracker`, runs the tracker's own use case on a bare aiokafka consumer: how
far taking the events off Faust's stream would go with today's domain work.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench import cpu
from bench.rows import COMMIT_TIMESTAMPS, RowWatch
from corridor.cloudevents import to_kafka_record
from infra.kafka.broker import KafkaBroker
from infra.kafka.broker_config import BrokerConfig
from infra.kafka.topics import ensure_topics, topic_specs
from infra.postgres.cluster import ClusterConfig, PostgresCluster
from infra.postgres.cluster import StartOutcome as ClusterStartOutcome
from simulator import SimulationConfig, simulate
from storage.migrate import migrate

REPO_ROOT = Path(__file__).resolve().parent.parent
# An initial rebalance delay, so that the workers share the first assignment: the test
# brokers' 0 gave the first worker to join every partition at once, and the second one,
# joining 0.2 s later, idled ~18 s until the first had stored its first catch-up batch
# and could let partitions go (faust waits for every record taken to be acked). 1 s, not
# Kafka's default 3: the workers launched together join within ~20 ms of each other, and
# the coordinator waits the delay, then once more as a member joined during it, so the
# default held every run's start for 6 s (a deployment pays that once, not per replay).
BENCH_BROKER = BrokerConfig(
    port=39092,
    controller_port=39093,
    run_dir=REPO_ROOT / ".run" / "kafka-bench",
    initial_rebalance_delay_ms=1000,
)
BENCH_CLUSTER = ClusterConfig(
    name="bench", port=35432, synchronous_commit="off", extra_settings=COMMIT_TIMESTAMPS
)
EVENTS_PER_CONSIGNMENT = 40  # about what a simulated journey emits
_COPY_RAW = (
    "COPY transit_events (event_id, occurred_at, event_type, location, consignment_id,"
    " carrier_id, source_system, fingerprint, payload) FROM STDIN"
)


GOAL_RATIO = 0.5  # the tracker's throughput goal, against the baseline
POLL_SECONDS = 0.5  # between looks at a tracker run's progress (cheap: see bench.rows)
# The paths a run measures, in the order they run, as the CPU rows name them.
PATH_LABELS = {
    "baseline": "baseline",
    "ceiling": "Faust ceiling",
    "store_ceiling": "decode+store ceiling",
    "plain_tracker": "tracker without Faust",
    "tracker": "tracker",
}


@dataclass(frozen=True)
class PathRun:
    """How long one path took over the topic, and the CPU its own processes spent."""

    seconds: float
    cpu_seconds: float
    cost: cpu.CpuCost | None = None  # with the database's, broker's and machine's share


@dataclass(frozen=True)
class Figures:
    events: int
    baseline_seconds: float
    tracker_seconds: float
    ceiling_seconds: float | None = None  # the Faust agent that takes events, no work
    store_ceiling_seconds: float | None = None  # ... that decodes and stores raw events
    workers: int = 1  # tracker workers sharing the partitions
    # Per path (`PATH_LABELS`), what it cost in CPU.
    costs: Mapping[str, cpu.CpuCost] = field(default_factory=dict)
    # The baseline runs before and after the other paths; `baseline_seconds` is the faster.
    baseline_runs: tuple[float, ...] = ()
    # The tracker's use case on a bare aiokafka consumer (`bench.plain_tracker`).
    plain_tracker_seconds: float | None = None

    @property
    def ceiling_rate(self) -> float | None:
        return self.events / self.ceiling_seconds if self.ceiling_seconds else None

    @property
    def store_ceiling_rate(self) -> float | None:
        return self.events / self.store_ceiling_seconds if self.store_ceiling_seconds else None

    @property
    def plain_tracker_rate(self) -> float | None:
        return self.events / self.plain_tracker_seconds if self.plain_tracker_seconds else None

    @property
    def baseline_rate(self) -> float:
        return self.events / self.baseline_seconds

    @property
    def tracker_rate(self) -> float:
        return self.events / self.tracker_seconds

    @property
    def ratio(self) -> float:
        return self.tracker_rate / self.baseline_rate

    def _tracker_label(self) -> str:
        workers = "1 Faust worker" if self.workers == 1 else f"{self.workers} Faust workers"
        return f"tracker: {workers}, full domain model"

    def table(self) -> str:
        lines = [
            f"{'path':<48} {'seconds':>9} {'events/s':>10}",
            f"{'baseline: aiokafka consumer + COPY, raw rows':<48} "
            f"{self.baseline_seconds:>9.1f} {self.baseline_rate:>10,.0f}",
        ]
        if len(self.baseline_runs) > 1:
            rates = ", ".join(f"{self.events / seconds:,.0f}" for seconds in self.baseline_runs)
            lines.append(
                f"  (before and after the other paths: {rates} events/s; the faster counts)"
            )
        if self.ceiling_seconds and self.ceiling_rate:
            lines.append(
                f"{'ceiling: Faust agent taking events, no work':<48} "
                f"{self.ceiling_seconds:>9.1f} {self.ceiling_rate:>10,.0f}"
            )
        if self.store_ceiling_seconds and self.store_ceiling_rate:
            lines.append(
                f"{'ceiling: Faust agent decoding, storing raw rows':<48} "
                f"{self.store_ceiling_seconds:>9.1f} {self.store_ceiling_rate:>10,.0f}"
            )
        if self.plain_tracker_seconds and self.plain_tracker_rate:
            lines.append(
                f"{'tracker use case on bare aiokafka, no Faust':<48} "
                f"{self.plain_tracker_seconds:>9.1f} {self.plain_tracker_rate:>10,.0f}"
            )
        lines += [
            f"{self._tracker_label():<48} {self.tracker_seconds:>9.1f} {self.tracker_rate:>10,.0f}",
            f"ratio tracker/baseline: {self.ratio:.2f} over {self.events:,} events",
        ]
        if self.ceiling_rate:
            lines.append(
                f"ratio Faust ceiling/baseline: {self.ceiling_rate / self.baseline_rate:.2f};"
                f" tracker/ceiling: {self.tracker_rate / self.ceiling_rate:.2f}"
            )
        if self.store_ceiling_rate:
            lines.append(
                "ratio decode+store ceiling/baseline:"
                f" {self.store_ceiling_rate / self.baseline_rate:.2f}"
            )
        if self.plain_tracker_rate:
            lines.append(
                "ratio tracker without Faust/baseline:"
                f" {self.plain_tracker_rate / self.baseline_rate:.2f}"
            )
        if self.costs:
            lines += ["", *self.cpu_table()]
        return "\n".join(lines)

    def _seconds_of(self, path: str) -> float | None:
        return {
            "baseline": self.baseline_seconds,
            "ceiling": self.ceiling_seconds,
            "store_ceiling": self.store_ceiling_seconds,
            "plain_tracker": self.plain_tracker_seconds,
            "tracker": self.tracker_seconds,
        }[path]

    def cpu_table(self) -> list[str]:
        """CPU per event of each path, split by process, and the cores the goal needs."""
        lines = [
            f"{'CPU per event (us)':<24} {'own':>7} {'database':>9} {'broker':>7}"
            f" {'machine':>8} {'cores busy':>11}"
        ]
        for path, label in PATH_LABELS.items():
            cost = self.costs.get(path)
            seconds = self._seconds_of(path)
            if cost is None or not seconds:
                continue
            cells = [
                "–" if value is None else f"{value:.0f}"
                for value in cost.per_event_us(self.events).values()
            ]
            lines.append(
                f"{label:<24} {cells[0]:>7} {cells[1]:>9} {cells[2]:>7} {cells[3]:>8}"
                f" {cost.machine / seconds:>11.2f}"
            )
        tracker = self.costs.get("tracker")
        if tracker is not None:
            goal_rate = GOAL_RATIO * self.baseline_rate
            needed = cores_at_goal(tracker, self.events, self.baseline_rate)
            lines.append(
                f"at the goal ({GOAL_RATIO} x baseline = {goal_rate:,.0f} events/s) the"
                f" tracker's CPU per event would keep {needed:.1f} cores busy;"
                f" this machine has {os.cpu_count()}"
            )
        return lines


def faster(*runs: PathRun) -> PathRun:
    """The baseline's figure: of its runs before and after the paths it is compared with,
    the faster. This machine's speed drifts by a fifth between runs minutes apart, and
    the slower run would flatter the others."""
    return min(runs, key=lambda run: run.seconds)


def cores_at_goal(cost: cpu.CpuCost, events: int, baseline_rate: float) -> float:
    """Cores the machine would keep busy running the tracker at the goal rate, if its CPU
    per event stayed as measured (it falls with bigger batches, so this is an upper
    bound only as long as the run was CPU-bound)."""
    return cost.machine / events * GOAL_RATIO * baseline_rate


async def produce_events(bootstrap: str, topic: str, wanted: int, seed: int) -> int:
    """Simulate until `wanted` events and put them on the topic; returns how many."""
    consignments = max(1, wanted // EVENTS_PER_CONSIGNMENT)
    days = max(10.0, consignments / 150)
    result = simulate(SimulationConfig(seed=seed, consignments=consignments, days=days))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        linger_ms=20,
        max_batch_size=512 * 1024,
    )
    await producer.start()
    sent = 0
    try:
        pending = []
        for delivery in result.deliveries:
            record = to_kafka_record(delivery.event)
            pending.append(
                await producer.send(
                    topic, key=record.key, value=record.value, headers=record.headers
                )
            )
            sent += 1
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending = []
            if sent >= wanted:
                break
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return sent


def _raw_row(value: bytes) -> tuple[str, ...]:
    event = json.loads(value)
    return (
        event["event_id"],
        event["occurred_at"],
        event["event_type"],
        event["location"],
        event["consignment_id"],
        event["carrier_id"],
        event["source"]["system"],
        hashlib.sha256(value).hexdigest(),
        value.decode(),
    )


async def run_baseline(
    bootstrap: str, topic: str, dsn: str, total: int, servers: cpu.Servers | None = None
) -> PathRun:
    """A bare consumer: poll, COPY the raw events, commit; no domain logic at all.

    It reads every partition itself, with no consumer group: a group's session could
    expire while the machine is saturated (it did, 10M events in), and the re-joined
    consumer would read again what it had stored, failing COPY on the primary key."""
    partitions = await _partitions_of(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=2000,
    )
    meter = cpu.Meter(servers)
    started = time.perf_counter()
    cpu_started = time.process_time()  # all threads of this process: it is the consumer
    await consumer.start()
    stored = 0
    try:
        consumer.assign([TopicPartition(topic, partition) for partition in sorted(partitions)])
        await consumer.seek_to_beginning()
        async with await psycopg.AsyncConnection.connect(dsn) as conn:
            while stored < total:
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                rows = [_raw_row(m.value) for msgs in batches.values() for m in msgs]
                if not rows:
                    continue
                async with (
                    conn.cursor() as cur,
                    cur.copy(_COPY_RAW) as copy,
                ):
                    for row in rows:
                        await copy.write_row(row)
                await conn.commit()
                stored += len(rows)
    finally:
        await consumer.stop()
    spent = time.process_time() - cpu_started
    return PathRun(time.perf_counter() - started, spent, meter.cost(spent))


async def _partitions_of(bootstrap: str, topic: str) -> set[int]:
    # The producer's metadata call is public; the consumer's needs a subscription.
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        return set(await producer.partitions_for(topic))
    finally:
        await producer.stop()


def run_tracker(
    bootstrap: str,
    prefix: str,
    dsn: str,
    total: int,
    timeout: float,
    workers: int = 1,
    servers: cpu.Servers | None = None,
) -> PathRun:
    """Production-configured tracker workers (rocksdb store) sharing the partitions, as in
    a deployment; time from their launch until every row is in, and their CPU until then."""
    data_dir = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    app_id = f"tracker-bench-{uuid.uuid4().hex[:6]}"
    logs = [(data_dir / f"worker-{n}.log").open("wb") for n in range(workers)]
    meter = cpu.Meter(servers)
    launched_at = time.time()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "services.tracker", "worker", "-l", "warn"],
            cwd=REPO_ROOT,
            env={
                **os.environ,
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "KAFKA_TOPIC_PREFIX": prefix,
                "DATABASE_URL": dsn,
                "TRACKER_APP_ID": app_id,
                "TRACKER_DATA_DIR": str(data_dir / f"worker-{n}"),
                "TRACKER_WEB_PORT": str(_free_port()),
            },
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for n, log in enumerate(logs)
    ]
    pids = [process.pid for process in processes]
    # (wall time, the workers' CPU, what the path cost) at every poll: the figure's CPU is
    # the first sample taken once the last row was committed.
    samples: list[tuple[float, float, cpu.CpuCost | None]] = []
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            watch = RowWatch(conn, total)
            while time.time() - launched_at < timeout:
                spent = cpu.tree_cpu_seconds(*pids)
                samples.append((time.time(), spent, meter.cost(spent)))
                if watch.reached():
                    finished_at = watch.finished_at()
                    spent = cpu.tree_cpu_seconds(*pids)  # one sample surely after the end
                    samples.append((time.time(), spent, meter.cost(spent)))
                    _, spent, cost = next(s for s in samples if s[0] >= finished_at)
                    shutil.rmtree(data_dir, ignore_errors=True)  # kept on failure, to read
                    return PathRun(finished_at - launched_at, spent, cost)
                if any(process.poll() is not None for process in processes):
                    raise SystemExit(f"a tracker worker exited; see {data_dir}/worker-*.log")
                elapsed = time.time() - launched_at
                time.sleep(POLL_SECONDS if watch.cheap else poll_interval(elapsed))
        raise SystemExit(f"the tracker did not finish within {timeout:g}s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:  # the figure is taken; don't lose it
                process.kill()
                process.wait()
        for log in logs:
            log.close()


def run_faust_ceiling(
    bootstrap: str,
    topic: str,
    total: int,
    timeout: float,
    store_dsn: str | None = None,
    servers: cpu.Servers | None = None,
) -> PathRun:
    """`bench.faust_ceiling` from launch until it has taken every event and exited; with
    `store_dsn`, the agent that decodes every record and stores the raw events there."""
    store = ["--store", store_dsn] if store_dsn else []
    return _run_path_module(
        "bench.faust_ceiling",
        [topic, str(total), "--bootstrap", bootstrap, *store],
        timeout,
        servers,
    )


def run_plain_tracker(
    bootstrap: str,
    topic: str,
    dsn: str,
    total: int,
    timeout: float,
    servers: cpu.Servers | None = None,
) -> PathRun:
    """`bench.plain_tracker` from launch until it has stored every event and exited."""
    return _run_path_module(
        "bench.plain_tracker",
        [topic, str(total), "--dsn", dsn, "--bootstrap", bootstrap],
        timeout,
        servers,
    )


def _run_path_module(
    module: str, arguments: list[str], timeout: float, servers: cpu.Servers | None
) -> PathRun:
    """Run a path's own module, timed from launch to exit. Its last line of output is
    JSON with the CPU seconds it spent."""
    meter = cpu.Meter(servers)
    started = time.perf_counter()
    result = subprocess.run(  # noqa: S603 (our own modules, fixed arguments)
        [sys.executable, "-m", module, *arguments],
        cwd=REPO_ROOT,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-3000:]
        raise SystemExit(f"{module} failed:\n{output!r}")
    spent = float(json.loads(result.stdout.splitlines()[-1])["cpu_seconds"])
    return PathRun(elapsed, spent, meter.cost(spent))


def poll_interval(elapsed: float) -> float:
    """How long to wait before counting rows again, for a waiter that counts every time
    (the end-to-end harness): 1 % of the time so far bounds both the counting's load on
    the database and the error it adds to the figure."""
    return min(2.0, max(0.1, elapsed / 100))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _fresh_database(cluster: PostgresCluster, name: str) -> str:
    cluster.drop_database(name)
    cluster.create_database(name)
    dsn = cluster.dsn(name)
    migrate(dsn)
    return dsn


def measure(
    events: int, seed: int = 1, timeout: float = 3600, workers: int = 1, ceiling: bool = True
) -> Figures:
    broker = KafkaBroker(BENCH_BROKER)
    broker.ensure_jars()
    launched_broker = asyncio.run(broker.start())
    cluster = PostgresCluster(BENCH_CLUSTER)
    started_cluster = cluster.start()
    try:
        asyncio.run(broker.wait_healthy(timeout=120))
        cluster.wait_ready()
        prefix = f"bench.{uuid.uuid4().hex[:6]}."
        asyncio.run(ensure_topics(broker.bootstrap_servers, topic_specs(prefix)))
        topic = f"{prefix}transit-events"
        total = asyncio.run(produce_events(broker.bootstrap_servers, topic, events, seed))
        servers = cpu.Servers.listening_on(BENCH_CLUSTER.port, BENCH_BROKER.port)
        runs: dict[str, PathRun] = {}

        def baseline() -> PathRun:
            run = asyncio.run(
                run_baseline(
                    broker.bootstrap_servers,
                    topic,
                    _fresh_database(cluster, "baseline"),
                    total,
                    servers,
                )
            )
            # Gone before the next path: its autovacuum must not run on their cores.
            cluster.drop_database("baseline")
            return run

        baseline_before = baseline()
        if ceiling:
            runs["ceiling"] = run_faust_ceiling(
                broker.bootstrap_servers, topic, total, timeout, servers=servers
            )
            runs["store_ceiling"] = run_faust_ceiling(
                broker.bootstrap_servers,
                topic,
                total,
                timeout,
                _fresh_database(cluster, "store_ceiling"),
                servers,
            )
            cluster.drop_database("store_ceiling")
            runs["plain_tracker"] = run_plain_tracker(
                broker.bootstrap_servers,
                topic,
                _fresh_database(cluster, "plain_tracker"),
                total,
                timeout,
                servers,
            )
            cluster.drop_database("plain_tracker")
        runs["tracker"] = run_tracker(
            broker.bootstrap_servers,
            prefix,
            _fresh_database(cluster, "tracker"),
            total,
            timeout,
            workers,
            servers,
        )
        cluster.drop_database("tracker")
        baseline_after = baseline()
        runs["baseline"] = faster(baseline_before, baseline_after)
        return Figures(
            total,
            runs["baseline"].seconds,
            runs["tracker"].seconds,
            runs["ceiling"].seconds if "ceiling" in runs else None,
            runs["store_ceiling"].seconds if "store_ceiling" in runs else None,
            workers,
            {path: run.cost for path, run in runs.items() if run.cost is not None},
            (baseline_before.seconds, baseline_after.seconds),
            runs["plain_tracker"].seconds if "plain_tracker" in runs else None,
        )
    finally:
        if started_cluster is ClusterStartOutcome.STARTED:
            cluster.stop()
        if launched_broker.name == "LAUNCHED":
            broker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument(
        "--workers", type=int, default=1, help="tracker workers sharing the partitions"
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help="skip the Faust ceiling runs (saves their time)"
    )
    args = parser.parse_args()
    figures = measure(args.events, args.seed, args.timeout, args.workers, not args.no_ceiling)
    print(figures.table())


if __name__ == "__main__":
    main()
