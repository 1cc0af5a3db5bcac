"""Ingest on the real broker and database: records, keys from the DB, and outages."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from psycopg.conninfo import conninfo_to_dict

from corridor.cloudevents import from_kafka_record
from infra.kafka.broker import KafkaBroker
from infra.kafka.broker_config import REPO_ROOT, BrokerConfig
from infra.kafka.topics import ensure_topics, topic_specs
from services.common.keystore import PostgresKeyStore
from services.common.reference_data import load_corridor_reference
from services.ingest import create_app
from services.ingest.in_memory import InMemoryDirectory, InMemoryKeyStore
from services.ingest.publisher import KafkaEventPublisher
from services.ingest.settings import IngestSettings
from storage.db import create_pool
from storage.queries.keys import KeyQueries

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
# A broker of this module's own, stopped and restarted by the outage test; never the shared one.
OUTAGE_BROKER = BrokerConfig(
    port=29192, controller_port=29193, run_dir=REPO_ROOT / ".run" / "kafka-ingest-outage-test"
)


def settings(
    bootstrap: str, database_url: str = "postgresql://u:p@127.0.0.1:1/db"
) -> IngestSettings:
    return IngestSettings(
        kafka_bootstrap_servers=bootstrap, database_url=database_url, ingest_retry_after_seconds=3
    )


def event(**overrides: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "gate.arrived",
        "occurred_at": "2026-11-20T06:15:00+05:00",
        "location": "KZ-NUR-ZHOLY",
        "consignment_id": f"MC-IT-{uuid.uuid4().hex[:8]}",
        "carrier_id": "carrier-kz-01",
        "source": {"system": "gate"},
    } | overrides


async def consume_all(bootstrap: str, topic: str, settle_seconds: float = 2.0) -> list[Any]:
    """Every record on the topic, read until nothing new arrived for `settle_seconds`."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[Any] = []
    try:
        quiet_since = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - quiet_since < settle_seconds:
            batch = await consumer.getmany(timeout_ms=300)
            for partition_records in batch.values():
                records.extend(partition_records)
                quiet_since = asyncio.get_running_loop().time()
    finally:
        await consumer.stop()
    return records


def as_url(dsn: str) -> str:
    """The fixtures' key=value DSN as the postgresql:// URL the settings expect."""
    if dsn.startswith("postgresql://"):
        return dsn
    parts = conninfo_to_dict(dsn)
    return (
        f"postgresql://{quote(str(parts['user']))}:{quote(str(parts['password']))}"
        f"@{parts['host']}:{parts['port']}/{parts['dbname']}"
    )


async def cli(database_url: str, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.common.keys_cli",
        *args,
        env={**os.environ, "DATABASE_URL": as_url(database_url)},
        cwd=REPO_ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


@pytest.fixture
async def kafka_api(
    kafka_bootstrap: str, kafka_topics: dict[str, str], database_url: str
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """The app on the real broker, with a key created by the CLI in the real database."""
    output = await cli(
        database_url,
        "create",
        "--role",
        "publisher",
        "--name",
        "Customs IT",
        *[arg for loc in load_corridor_reference().locations for arg in ("--location", loc.code)],
    )
    plain = output.strip().splitlines()[-1]
    publisher = KafkaEventPublisher([kafka_bootstrap], kafka_topics["transit-events"], 10.0)
    await publisher.start()
    async with create_pool(database_url, name="ingest-it") as pool:
        app = create_app(
            settings(kafka_bootstrap, as_url(database_url)),
            publisher=publisher,
            key_store=PostgresKeyStore(KeyQueries(pool)),
            reference=load_corridor_reference(),
            directory=InMemoryDirectory(),
            now=lambda: NOW,
        )
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://ingest",
            headers={"Authorization": f"Bearer {plain}"},
        ) as client:
            yield client, output
    await publisher.stop()


async def test_accepted_events_are_on_the_topic_with_key_and_cloudevents_headers(
    kafka_api: tuple[httpx.AsyncClient, str], kafka_bootstrap: str, kafka_topics: dict[str, str]
) -> None:
    client, _ = kafka_api
    good, bad, also_good = event(), event(location="KZ-NOWHERE"), event(event_type="gate.departed")
    batch = await client.post("/v1/events", content=json.dumps([good, bad, also_good]))
    assert batch.status_code == 202, batch.text
    assert [r["status"] for r in batch.json()["results"]] == ["accepted", "rejected", "accepted"]
    accepted = {good["event_id"], also_good["event_id"]}
    for name, path in [
        ("ncts_cc029c_release_for_transit.xml", "ncts"),
        ("etir_i9_start.json", "etir"),
    ]:
        response = await client.post(f"/v1/messages/{path}", content=(SAMPLES / name).read_bytes())
        assert response.status_code in (200, 202), response.text
        accepted |= {r["event_id"] for r in response.json()["results"]}

    records = await consume_all(kafka_bootstrap, kafka_topics["transit-events"])
    ours = {}
    for record in records:
        published = from_kafka_record(record.key, record.value, record.headers)
        ours[str(published.event_id)] = (record, published)
    assert accepted <= set(ours)
    assert bad["event_id"] not in ours
    for event_id in accepted:
        record, published = ours[event_id]
        headers = dict(record.headers)
        assert record.key == published.consignment_id.encode()
        assert headers["ce_id"] == event_id.encode()
        assert headers["ce_specversion"] == b"1.0"
        assert headers["ce_type"].endswith(f"{published.event_type.value}.v1".encode())
    # One consignment's events share a key, hence a partition.
    assert ours[good["event_id"]][0].partition == ours[good["event_id"]][0].partition


async def test_keys_from_the_database_authenticate_and_revoked_ones_do_not(
    kafka_api: tuple[httpx.AsyncClient, str], database_url: str
) -> None:
    client, output = kafka_api
    assert (await client.post("/v1/events", content=json.dumps(event()))).status_code == 202
    key_id = output.split()[2]
    listing = await cli(database_url, "list")
    assert key_id in listing
    assert "mck_pub" in listing
    await cli(database_url, "revoke", key_id)
    response = await client.post("/v1/events", content=json.dumps(event()))
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_an_unreachable_broker_is_503_with_retry_after() -> None:
    publisher = KafkaEventPublisher(["127.0.0.1:1"], "corridor.transit-events", 2.0)
    keys = InMemoryKeyStore()
    key = keys.add("BCP", locations=["KZ-NUR-ZHOLY"])
    app = create_app(
        settings("127.0.0.1:1"),
        publisher=publisher,
        key_store=keys,
        reference=load_corridor_reference(),
        directory=InMemoryDirectory(),
        now=lambda: NOW,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://i",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        response = await client.post("/v1/events", content=json.dumps(event()))
        assert response.status_code == 503
        assert response.headers["retry-after"] == "3"
        assert response.json()["type"] == "/problems/broker-unavailable"
        assert (await client.get("/readyz")).status_code == 503
    await publisher.stop()


@pytest.fixture
async def outage_broker() -> AsyncIterator[KafkaBroker]:
    broker = KafkaBroker(OUTAGE_BROKER)
    await broker.start(fresh_data=True)
    try:
        await broker.wait_healthy(timeout=120)
        yield broker
    finally:
        broker.stop()


@pytest.mark.timeout(400)
async def test_with_the_broker_stopped_nothing_is_acknowledged_and_nothing_leaks(
    outage_broker: KafkaBroker,
) -> None:
    bootstrap = outage_broker.bootstrap_servers
    [events_topic] = [s.name for s in topic_specs("outage.") if s.name.endswith("transit-events")]
    await ensure_topics(bootstrap, topic_specs("outage."))
    publisher = KafkaEventPublisher([bootstrap], events_topic, 3.0)
    keys = InMemoryKeyStore()
    key = keys.add("BCP", locations=["KZ-NUR-ZHOLY"])
    app = create_app(
        settings(bootstrap),
        publisher=publisher,
        key_store=keys,
        reference=load_corridor_reference(),
        directory=InMemoryDirectory(),
        now=lambda: NOW,
    )
    acknowledged: set[str] = set()
    refused: set[str] = set()

    async def post(client: httpx.AsyncClient, items: list[dict[str, Any]]) -> int:
        response = await client.post("/v1/events", content=json.dumps(items))
        ids = {item["event_id"] for item in items}
        (acknowledged if response.is_success else refused).update(ids)
        if response.status_code == 503:
            assert response.headers["retry-after"] == "3"
        return response.status_code

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://i",
        headers={"Authorization": f"Bearer {key}"},
    ) as client:
        assert await post(client, [event(), event()]) == 202
        await asyncio.to_thread(outage_broker.stop)
        assert await post(client, [event(), event()]) == 503  # producer with cached metadata
        assert await post(client, [event()]) == 503  # a new producer cannot connect
        assert (await client.get("/readyz")).status_code == 503
        await outage_broker.start()
        await outage_broker.wait_healthy(timeout=120)
        for _ in range(30):  # the restarted broker may need a moment to lead its partitions
            if await post(client, [event()]) == 202:
                break
            await asyncio.sleep(1)
        assert await post(client, [event(), event()]) == 202
    await publisher.stop()

    on_topic = {
        str(from_kafka_record(r.key, r.value, r.headers).event_id)
        for r in await consume_all(bootstrap, events_topic, settle_seconds=5.0)
    }
    assert len(acknowledged) >= 5
    assert on_topic == acknowledged
    assert not on_topic & refused
