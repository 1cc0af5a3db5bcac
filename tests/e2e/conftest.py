"""The whole stack for end-to-end tests: ingest, tracker, API and webhook dispatcher as
real processes, started from the list `make up` starts (`infra.stack.service_processes`).

They run against the session's test broker and a fresh database of their own, on
free ports, with keys issued through the same code as the key CLI. The KPI refresher is
left out (nothing here reads the rollups before it would have run).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from corridor.reference import load_reference
from infra.kafka.topics import ensure_topics, topic_specs
from infra.stack import service_processes
from services.common.keys import Role
from services.common.keys_cli import issue_key
from storage.db import create_pool
from tests.fixtures.postgres import _create, _drop, _unique_name
from tests.integration.tracker_harness import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
CARRIER_A = "carrier-kz-01"
CARRIER_B = "carrier-tr-02"
SERVICES = ("ingest", "tracker", "api", "dispatcher")


@dataclass
class Stack:
    ingest_url: str
    api_url: str
    dispatcher_metrics_url: str
    database_url: str
    topic_prefix: str
    keys: dict[str, str]
    log_dir: Path
    pids: dict[str, int] = field(default_factory=dict)  # by service name

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name} ---\n{log.read_text(errors='replace')[-3000:]}"
            for log in sorted(self.log_dir.glob("*.log"))
        )


@pytest.fixture(scope="package")
def e2e_database_url(postgres_dsn_base: str, _migrated_template: str) -> Iterator[str]:
    from psycopg.conninfo import make_conninfo

    name = _unique_name("e2e")
    _create(postgres_dsn_base, name, template=_migrated_template)
    try:
        yield make_conninfo(postgres_dsn_base, dbname=name)
    finally:
        _drop(postgres_dsn_base, name)


async def _issue_keys(database_url: str) -> dict[str, str]:
    everywhere = tuple(location.code for location in load_reference().locations)
    async with create_pool(database_url, min_size=1, max_size=1) as pool:
        issued = {
            "publisher": await issue_key(pool, Role.PUBLISHER, "e2e publisher", everywhere),
            "nur_zholy": await issue_key(pool, Role.PUBLISHER, "Nur Zholy", ("KZ-NUR-ZHOLY",)),
            "operator": await issue_key(pool, Role.OPERATOR, "e2e operator"),
            "carrier_a": await issue_key(pool, Role.CARRIER, "A", carrier_id=CARRIER_A),
            "carrier_b": await issue_key(pool, Role.CARRIER, "B", carrier_id=CARRIER_B),
        }
    return {name: plain for name, (_, plain) in issued.items()}


def _start(module: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", *module],
            cwd=REPO_ROOT,
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _wait_ready(
    url: str, process: subprocess.Popen[bytes], stack: Stack, path: str = "/readyz"
) -> None:
    import asyncio

    async with httpx.AsyncClient() as client:
        for _ in range(240):
            if process.poll() is not None:
                raise AssertionError(f"{url} exited early:\n{stack.logs()}")
            try:
                if (await client.get(f"{url}{path}", timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.25)
    raise AssertionError(f"{url} never became ready:\n{stack.logs()}")


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def stack(
    kafka_bootstrap: str,
    topic_prefix: str,
    e2e_database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[Stack]:
    prefix = f"{topic_prefix}e2e{uuid.uuid4().hex[:6]}."
    await ensure_topics(kafka_bootstrap, topic_specs(prefix))
    log_dir = tmp_path_factory.mktemp("e2e-logs")
    ingest_port, api_port, dispatcher_port = free_port(), free_port(), free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_TOPIC_PREFIX": prefix,
        "DATABASE_URL": e2e_database_url,
        "INGEST_PORT": str(ingest_port),
        "API_PORT": str(api_port),
        "TRACKER_APP_ID": f"tracker-e2e-{uuid.uuid4().hex[:6]}",
        "TRACKER_STORE": "memory://",
        "TRACKER_DATA_DIR": str(log_dir / "tracker-data"),
        "TRACKER_WEB_PORT": str(free_port()),
        "TRACKER_BATCH_SECONDS": "0.2",
        "TRACKER_SESSION_TIMEOUT_SECONDS": "6",
        "DISPATCHER_METRICS_PORT": str(dispatcher_port),
        "DISPATCHER_GROUP_ID": f"dispatcher-e2e-{uuid.uuid4().hex[:6]}",
        # From the topics' start: nothing is missed while the group is being joined.
        "DISPATCHER_OFFSET_RESET": "earliest",
        "WEBHOOK_ALLOWED_INSECURE_TARGETS": "127.0.0.1",
        "WEBHOOK_POLL_SECONDS": "0.1",
        "WEBHOOK_RETRY_BASE_SECONDS": "0.5",
    }
    stack = Stack(
        ingest_url=f"http://127.0.0.1:{ingest_port}",
        api_url=f"http://127.0.0.1:{api_port}",
        dispatcher_metrics_url=f"http://127.0.0.1:{dispatcher_port}",
        database_url=e2e_database_url,
        topic_prefix=prefix,
        keys=await _issue_keys(e2e_database_url),
        log_dir=log_dir,
    )
    made_up = {service.name: service for service in service_processes(env)}
    assert set(SERVICES) <= set(made_up), f"make up starts {sorted(made_up)}"
    processes = {
        name: _start(list(made_up[name].module_args), env, log_dir / f"{name}.log")
        for name in SERVICES
    }
    stack.pids = {name: process.pid for name, process in processes.items()}
    try:
        await _wait_ready(stack.ingest_url, processes["ingest"], stack)
        await _wait_ready(stack.api_url, processes["api"], stack)
        await _wait_ready(
            stack.dispatcher_metrics_url, processes["dispatcher"], stack, path="/metrics"
        )
        yield stack
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
