"""The whole dev stack in one command: Kafka, PostgreSQL, the services, a sample replay.

`python -m infra up` is safe to re-run: what is already running is reused. `down`
stops everything it started, services first, then the broker and the database.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg

from infra.demo import KEYS_FILE, replay_sample
from infra.kafka.broker_config import BrokerConfig
from infra.kafka.cluster import KafkaCluster
from infra.kafka.topics import ensure_topics, topic_specs
from infra.postgres.cluster import PostgresCluster
from infra.postgres.settings import PostgresHarnessSettings
from infra.processes import REPO_ROOT, STACK_RUN_DIR, ServiceProcess

DATABASE_NAME = "corridor"
TOPIC_PREFIX = os.environ.get("KAFKA_TOPIC_PREFIX", "corridor.")
INGEST_PORT = int(os.environ.get("INGEST_PORT", "8001"))
API_PORT = int(os.environ.get("API_PORT", "8002"))
DISPATCHER_METRICS_PORT = int(os.environ.get("DISPATCHER_METRICS_PORT", "8003"))
# 1: a single broker; 3: a KRaft cluster on loopback (topics replicated 3 times, 2 in sync).
KAFKA_BROKERS = int(os.environ.get("KAFKA_BROKERS", "1"))

STACK_ENV_FILE = STACK_RUN_DIR / "stack.env"

Say = Callable[[str], None]


def kafka(brokers: int = KAFKA_BROKERS) -> KafkaCluster:
    """The stack's Kafka; a cluster keeps its nodes apart from the single broker's files."""
    base = BrokerConfig()
    if brokers > 1:
        base = BrokerConfig(run_dir=base.run_dir.with_name(f"kafka-{brokers}-brokers"))
    return KafkaCluster(base, brokers)


@dataclass(frozen=True)
class StackEndpoints:
    kafka_bootstrap: str
    database_url: str
    kafka_replication_factor: int = 1

    def service_env(self) -> dict[str, str]:
        # A tracker's table store must never meet another Kafka's changelog.
        store = "tracker" if KAFKA_BROKERS == 1 else f"tracker-{KAFKA_BROKERS}-brokers"
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "KAFKA_REPLICATION_FACTOR": str(self.kafka_replication_factor),
            "TRACKER_DATA_DIR": str(REPO_ROOT / ".run" / store),
            "KAFKA_TOPIC_PREFIX": TOPIC_PREFIX,
            "DATABASE_URL": self.database_url,
            "INGEST_PORT": str(INGEST_PORT),
            "API_PORT": str(API_PORT),
            "DISPATCHER_METRICS_PORT": str(DISPATCHER_METRICS_PORT),
        }


def _built(module: str) -> bool:
    """Whether a service's entry point exists in this checkout."""
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def service_processes(env: dict[str, str]) -> list[ServiceProcess]:
    candidates = [
        ServiceProcess(
            "ingest", ["services.ingest"], env, f"http://127.0.0.1:{INGEST_PORT}/readyz"
        ),
        ServiceProcess("tracker", ["services.tracker", "worker"], env),
        ServiceProcess("kpi-refresh", ["storage", "refresh-views", "--every", "60"], env),
        ServiceProcess("api", ["services.api"], env, f"http://127.0.0.1:{API_PORT}/readyz"),
        ServiceProcess(
            "dispatcher",
            ["services.dispatcher"],
            env,
            f"http://127.0.0.1:{DISPATCHER_METRICS_PORT}/metrics",
        ),
    ]
    entry_points = {
        "ingest": "services.ingest.__main__",
        "tracker": "services.tracker.__main__",
        "kpi-refresh": "storage.__main__",
        "api": "services.api.__main__",
        "dispatcher": "services.dispatcher.__main__",
    }
    return [p for p in candidates if _built(entry_points[p.name])]


def start_kafka(say: Say) -> KafkaCluster:
    # Refused connections while the broker boots are expected; aiokafka logs each at ERROR.
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    cluster = kafka()
    say(f"kafka: resolving jars (Maven, cached after the first run), {cluster.bootstrap_servers}")
    cluster.ensure_jars()
    outcome = asyncio.run(cluster.start())
    asyncio.run(cluster.wait_healthy(timeout=120))
    asyncio.run(
        ensure_topics(
            cluster.bootstrap_servers,
            topic_specs(TOPIC_PREFIX),
            replication_factor=cluster.replication_factor,
            min_insync_replicas=cluster.min_insync_replicas,
        )
    )
    say(
        f"kafka: {KAFKA_BROKERS} broker(s) {outcome.name.lower()}, healthy, topics applied "
        f"with prefix {TOPIC_PREFIX!r} (replication {cluster.replication_factor}, "
        f"min in sync {cluster.min_insync_replicas})"
    )
    return cluster


def start_postgres(say: Say) -> str:
    given = os.environ.get("DATABASE_URL")
    if given:
        say("postgres: using the server of DATABASE_URL")
        return given
    cluster = PostgresCluster(PostgresHarnessSettings().cluster_config())
    outcome = cluster.start()
    cluster.wait_ready()
    with psycopg.connect(cluster.dsn("postgres"), autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)
        ).fetchone()
    if not exists:
        cluster.create_database(DATABASE_NAME)
    say(f"postgres: {outcome.name.lower()} on {cluster.config.host}:{cluster.config.port}")
    return cluster.dsn(DATABASE_NAME)


def migrate(database_url: str, say: Say) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "storage", "migrate"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"migrations failed:\n{result.stdout}{result.stderr}")
    say("postgres: " + (result.stdout.strip().splitlines() or ["migrations applied"])[-1])


def up(say: Say = print, replay: bool = True) -> StackEndpoints:
    STACK_RUN_DIR.mkdir(parents=True, exist_ok=True)
    cluster = start_kafka(say)
    endpoints = StackEndpoints(
        cluster.bootstrap_servers, start_postgres(say), cluster.replication_factor
    )
    migrate(endpoints.database_url, say)
    env = endpoints.service_env()
    if _previous_env() not in (None, env):
        # Services still running with other settings (another DATABASE_URL, say) would
        # serve another database than the one just migrated and given the demo keys.
        for process in reversed(service_processes({})):
            if process.stop():
                say(f"{process.name}: stopped, its settings changed")
    _write_env_file(env)
    for process in service_processes(env):
        launched = process.start()
        process.wait_ready(timeout=90)
        state = "started" if launched else "already running"
        say(f"{process.name}: {state} (log {process.log_file})")
    if replay:
        replay_sample(env, say)
    say("")
    say(f"Kafka bootstrap   {endpoints.kafka_bootstrap}")
    say(f"PostgreSQL        {_redacted(endpoints.database_url)}  (password in .run/postgres/)")
    say(f"Ingest API        http://127.0.0.1:{INGEST_PORT}/docs")
    say(f"Tracking API      http://127.0.0.1:{API_PORT}/docs")
    say(f"Settings          {STACK_RUN_DIR / 'stack.env'} (source it to talk to this stack)")
    say("Stop everything   make down")
    return endpoints


def down(say: Say = print) -> None:
    for process in reversed(service_processes({})):
        if process.stop():
            say(f"{process.name}: stopped")
    if not os.environ.get("DATABASE_URL"):
        cluster = PostgresCluster(PostgresHarnessSettings().cluster_config())
        if cluster.stop():
            say("postgres: stopped")
    for brokers in (1, 3):
        if kafka(brokers).stop():
            say(f"kafka: {brokers} broker(s) stopped")


def status(say: Say = print) -> None:
    for process in service_processes({}):
        pid = process.pid()
        say(f"{process.name:12} {'running, pid ' + str(pid) if pid else 'stopped'}")
    cluster = PostgresCluster(PostgresHarnessSettings().cluster_config())
    say(f"{'postgres':12} {'running' if cluster.is_running() else 'stopped'}")
    for brokers in (1, 3):
        state = "running" if kafka(brokers).is_running() else "stopped"
        say(f"{'kafka ' + str(brokers):12} {state}")


def _previous_env() -> dict[str, str] | None:
    """The settings the running services were started with, from stack.env."""
    try:
        lines = STACK_ENV_FILE.read_text().splitlines()
    except FileNotFoundError:
        return None
    pairs = (line.removeprefix("export ").split("=", 1) for line in lines if "=" in line)
    return {key: json.loads(value) for key, value in pairs}


def _write_env_file(env: dict[str, str]) -> None:
    path = STACK_ENV_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.writelines(f"export {key}={json.dumps(value)}\n" for key, value in env.items())


def _redacted(url: str) -> str:
    password = urlsplit(url).password
    return url.replace(f":{password}@", ":***@") if password else url


__all__ = ["KEYS_FILE", "down", "status", "up"]
