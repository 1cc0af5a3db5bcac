"""Webhooks end to end: API registration, Kafka's derived topics, the dispatcher, a real
HTTP receiver on 127.0.0.1.

Consignment updates and alerts are produced to the derived topics the way the tracker
produces them; a dispatcher runs in this process with its own consumer group; the
receiver is a plain HTTP server whose answers each test scripts per path.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import psycopg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from standardwebhooks import Webhook

from corridor.reference import load_reference
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.eta import CachedEtaStatistics
from services.common.keys import Role
from services.dispatcher.bootstrap import dispatcher
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.settings import DispatcherSettings
from services.ingest.in_memory import InMemoryKeyStore
from services.tracker.derived_topics import encode
from storage.db import create_pool
from storage.queries.api import ApiQueries
from storage.queries.eta import EtaQueries
from storage.queries.webhooks import WebhookStore

pytestmark = pytest.mark.integration

MAX_ATTEMPTS = 4
TIMEOUT = 1.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """Answers each path from its script (status codes, or 'slow' for a timeout), then
    with its default; records every request."""

    port: int = 0
    scripts: dict[str, list[int | str]] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=dict)
    log: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str) -> int | str:
        with self.lock:
            script = self.scripts.get(path)
            return script.pop(0) if script else self.defaults.get(path, 204)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str, ok_only: bool = False) -> list[Received]:
        with self.lock:
            return [r for r in self.log if r.path == path and (r.status < 300 or not ok_only)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            answer = state.answer(self.path)
            # Logged on arrival; a slow answer counts as failed (the sender gave up).
            logged = 599 if answer == "slow" else int(answer)
            with state.lock:
                state.log.append(Received(self.path, dict(self.headers.items()), body, logged))
            if answer == "slow":
                time.sleep(TIMEOUT * 2)
            self.send_response(200 if answer == "slow" else int(answer))
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class World:
    api: httpx.AsyncClient
    keys: dict[str, str]
    producer: AIOKafkaProducer
    topics: dict[str, str]
    metrics: DispatcherMetrics

    def headers(self, carrier: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[carrier]}"}

    async def register(self, carrier: str, url: str, kinds: list[str]) -> dict[str, Any]:
        response = await self.api.post(
            "/v1/webhooks/endpoints",
            json={"url": url, "kinds": kinds},
            headers=self.headers(carrier),
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def update(
        self, consignment: str, carrier: str, state: str, location: str | None
    ) -> None:
        document = {
            "consignment_id": consignment,
            "carrier_id": carrier,
            "state": state,
            "current_location": location,
            "last_event_at": datetime.now(UTC).isoformat(),
            "route_id": None,
            "event_count": 1,
            "stays_completed": 0,
            "waiting_since": None,
            "anomalies": 0,
        }
        await self.producer.send_and_wait(
            self.topics["consignment-updates"], encode(document), key=consignment.encode()
        )

    async def alert(self, consignment: str, carrier: str, dedup: str) -> None:
        document = {
            "kind": "overdue_stay",
            "consignment_id": consignment,
            "carrier_id": carrier,
            "location": "KZ-NUR-ZHOLY",
            "occurred_at": datetime.now(UTC).isoformat(),
            "detail": "waiting 50 h",
            "dedup_key": dedup,
        }
        await self.producer.send_and_wait(
            self.topics["alerts"], encode(document), key=consignment.encode()
        )


@pytest_asyncio.fixture(loop_scope="session")
async def world(
    fresh_database_url: str, kafka_bootstrap: str, topic_prefix: str, kafka_topics: dict[str, str]
) -> AsyncIterator[World]:
    carriers = ("carrier-a", "carrier-b")
    async with _world(
        fresh_database_url, carriers, kafka_bootstrap, topic_prefix, kafka_topics
    ) as w:
        yield w


@pytest_asyncio.fixture(loop_scope="session")
async def month_world(
    populated_database_url: str,
    sample_run: Any,
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: dict[str, str],
) -> AsyncIterator[World]:
    """The same on the simulated month: consignments with stays, so updates carry ETAs."""
    carriers = tuple({c.carrier_id for c in sample_run[0].truth.consignments.values()})
    async with _world(
        populated_database_url, carriers, kafka_bootstrap, topic_prefix, kafka_topics
    ) as w:
        yield w


@asynccontextmanager
async def _world(
    database_url: str,
    carriers: tuple[str, ...],
    kafka_bootstrap: str,
    topic_prefix: str,
    kafka_topics: dict[str, str],
) -> AsyncIterator[World]:
    store = InMemoryKeyStore()
    keys = {c: store.add(c, Role.CARRIER, carrier_id=c) for c in carriers}
    api_settings = ApiSettings(
        database_url=database_url, webhook_allowed_insecure_targets="127.0.0.1"
    )
    settings = DispatcherSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=topic_prefix,
        dispatcher_group_id=f"webhooks-{uuid.uuid4().hex[:8]}",
        dispatcher_offset_reset="latest",
        webhook_allowed_insecure_targets="127.0.0.1",
        webhook_max_attempts=MAX_ATTEMPTS,
        webhook_retry_base_seconds=0.2,
        webhook_retry_max_seconds=0.5,
        webhook_timeout_seconds=TIMEOUT,
        webhook_poll_seconds=0.05,
    )
    metrics = DispatcherMetrics.create()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        async with _served(database_url, store, api_settings, settings, metrics) as (
            api,
            running,
        ):
            task = asyncio.create_task(running.run())
            try:
                await _assigned(running)
                yield World(api, keys, producer, kafka_topics, metrics)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        await producer.stop()


@asynccontextmanager
async def _served(
    database_url: str,
    store: InMemoryKeyStore,
    api_settings: ApiSettings,
    settings: DispatcherSettings,
    metrics: DispatcherMetrics,
) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    async with create_pool(database_url, min_size=1, max_size=2) as pool:
        app = create_app(
            api_settings,
            reads=ApiQueries(pool),
            key_store=store,
            reference=load_reference(),
            now=lambda: datetime.now(UTC),
            webhook_store=WebhookStore(pool),
            eta_statistics=CachedEtaStatistics(EtaQueries(pool), ttl=600),
        )
        transport = httpx.ASGITransport(app=app)
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://api") as api,
            dispatcher(settings, metrics) as running,
        ):
            yield api, running


async def _assigned(running: Any, within: float = 30.0) -> None:
    """The group has its partitions and their offsets ('latest' is fixed only then)."""
    deadline = time.monotonic() + within
    consumer = running._consumer
    while True:
        assert time.monotonic() < deadline, "the dispatcher got no partitions"
        assignment = consumer.assignment()
        if assignment and all([await _positioned(consumer, tp) for tp in assignment]):
            return
        await asyncio.sleep(0.1)


async def _positioned(consumer: Any, tp: Any) -> bool:
    try:
        await asyncio.wait_for(consumer.position(tp), 1)
    except Exception:
        return False
    return True


async def eventually(check: Any, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


def verified(secret: str, received: Received) -> dict[str, Any]:
    """The few lines a receiver needs (docs/api.md), then the standardwebhooks library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
    digest = hmac.new(key, signed + received.body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    assert expected in received.headers["webhook-signature"].split(" ")
    document: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    return document


async def test_deliveries_are_signed_and_carry_the_change(world: World, receiver: Receiver) -> None:
    created = await world.register("carrier-a", receiver.url("/a"), ["state", "location", "alert"])
    assert created["secret"].startswith("whsec_")
    await world.update("MC-A-1", "carrier-a", "in_transit", None)
    await world.update("MC-A-1", "carrier-a", "at_location", "KZ-NUR-ZHOLY")
    await world.alert("MC-A-1", "carrier-a", "overdue:MC-A-1:1")
    await eventually(lambda: _count(receiver.at("/a"), 4))
    documents = [verified(created["secret"], r) for r in receiver.at("/a")]
    types = [
        (d["type"], d["data"].get("state"), d["data"].get("current_location")) for d in documents
    ]
    assert types[:3] == [
        ("consignment.state_changed", "in_transit", None),
        ("consignment.state_changed", "at_location", "KZ-NUR-ZHOLY"),
        ("consignment.location_changed", "at_location", "KZ-NUR-ZHOLY"),
    ]
    assert documents[3]["type"] == "alert.raised"
    assert documents[3]["data"]["detail"] == "waiting 50 h"
    assert world.metrics.deliveries.labels("consignment.state_changed")._value.get() >= 2


def _count(items: list[Received], expected: int) -> None:
    assert len(items) == expected, [r.path for r in items]


async def test_retries_after_500s_and_timeouts_keep_the_order_per_consignment(
    world: World, receiver: Receiver
) -> None:
    created = await world.register("carrier-a", receiver.url("/flaky"), ["state"])
    receiver.scripts["/flaky"] = [500, "slow", 503]
    states = ["declared", "in_transit", "at_location", "in_transit", "completed"]
    for state in states:
        await world.update("MC-A-2", "carrier-a", state, None)
    await eventually(lambda: _count(receiver.at("/flaky", ok_only=True), len(states)))
    delivered = [
        verified(created["secret"], r)["data"]["state"] for r in receiver.at("/flaky", ok_only=True)
    ]
    assert delivered == states
    attempts = receiver.at("/flaky")
    first = attempts[0].headers["webhook-id"]
    # The first update was tried four times (500, timeout, 503, 204) before any other.
    assert [a.headers["webhook-id"] for a in attempts[:4]] == [first] * 4
    assert world.metrics.failures.labels("timeout")._value.get() >= 1


async def test_a_dead_letter_after_the_last_retry_can_be_read_and_replayed(
    world: World, receiver: Receiver
) -> None:
    created = await world.register("carrier-a", receiver.url("/down"), ["state"])
    endpoint = created["endpoint"]["id"]
    receiver.defaults["/down"] = 500
    await world.update("MC-A-3", "carrier-a", "in_transit", None)
    await eventually(lambda: _count(receiver.at("/down"), MAX_ATTEMPTS))
    path = f"/v1/webhooks/endpoints/{endpoint}/dead-letters"

    async def dead() -> list[dict[str, Any]]:
        response = await world.api.get(path, headers=world.headers("carrier-a"))
        assert response.status_code == 200
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    for _ in range(100):
        if letters := await dead():
            break
        await asyncio.sleep(0.1)
    assert len(letters) == 1
    assert letters[0]["attempts"] == MAX_ATTEMPTS
    assert letters[0]["last_status"] == 500
    assert json.loads(letters[0]["body"])["data"]["consignment_id"] == "MC-A-3"
    # Another carrier can neither see nor replay them.
    foreign = await world.api.get(path, headers=world.headers("carrier-b"))
    assert foreign.status_code == 404

    receiver.defaults["/down"] = 204
    replay = await world.api.post(
        f"{path}/replay", json={"delivery_id": letters[0]["id"]}, headers=world.headers("carrier-a")
    )
    assert replay.json() == {"replayed": 1}
    await eventually(lambda: _count(receiver.at("/down", ok_only=True), 1))
    assert receiver.at("/down", ok_only=True)[0].headers["webhook-id"] == letters[0]["id"]
    assert await dead() == []


async def test_another_carrier_gets_nothing_of_a_carriers_consignments(
    world: World, receiver: Receiver
) -> None:
    await world.register("carrier-b", receiver.url("/b"), ["state", "location", "alert"])
    mine = await world.register("carrier-a", receiver.url("/mine"), ["state"])
    await world.update("MC-A-4", "carrier-a", "in_transit", None)
    await world.alert("MC-A-4", "carrier-a", "overdue:MC-A-4:1")
    await eventually(lambda: _count(receiver.at("/mine"), 1))
    await asyncio.sleep(1.0)  # time enough for anything misrouted to arrive too
    assert receiver.at("/b") == []
    listed = await world.api.get("/v1/webhooks/endpoints", headers=world.headers("carrier-b"))
    assert mine["endpoint"]["id"] not in {e["id"] for e in listed.json()["items"]}


async def test_paused_endpoints_keep_their_queue_until_resumed(
    world: World, receiver: Receiver
) -> None:
    created = await world.register("carrier-a", receiver.url("/paused"), ["state"])
    endpoint = f"/v1/webhooks/endpoints/{created['endpoint']['id']}"
    paused = await world.api.patch(
        endpoint, json={"paused": True}, headers=world.headers("carrier-a")
    )
    assert paused.json()["paused"] is True
    await world.update("MC-A-5", "carrier-a", "in_transit", None)
    await asyncio.sleep(1.5)
    assert receiver.at("/paused") == []
    await world.api.patch(endpoint, json={"paused": False}, headers=world.headers("carrier-a"))
    await eventually(lambda: _count(receiver.at("/paused"), 1))


@pytest.mark.parametrize(
    "url",
    [
        "http://tms.example.com/hook",
        "https://127.0.0.2/hook",
        "https://localhost/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://user:pw@tms.example.com/hook",
    ],
)
async def test_targets_inside_our_network_or_without_https_are_refused(
    world: World, url: str
) -> None:
    response = await world.api.post(
        "/v1/webhooks/endpoints",
        json={"url": url, "kinds": ["state"]},
        headers=world.headers("carrier-a"),
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"


async def test_a_rotated_secret_signs_beside_the_old_one(world: World, receiver: Receiver) -> None:
    created = await world.register("carrier-a", receiver.url("/rotated"), ["state"])
    rotated = await world.api.post(
        f"/v1/webhooks/endpoints/{created['endpoint']['id']}/rotate-secret",
        headers=world.headers("carrier-a"),
    )
    new_secret = rotated.json()["secret"]
    assert new_secret != created["secret"]
    await world.update("MC-A-6", "carrier-a", "in_transit", None)
    await eventually(lambda: _count(receiver.at("/rotated"), 1))
    received = receiver.at("/rotated")[0]
    verified(new_secret, received)
    verified(created["secret"], received)


async def test_pushed_updates_carry_the_eta_the_status_api_gives(
    month_world: World, receiver: Receiver, sample_run: Any, populated_database_url: str
) -> None:
    truth = sample_run[0].truth
    eta: dict[str, Any] = {}
    for waiting in truth.consignments.values():
        if waiting.state.value != "at_location":
            continue
        status = await month_world.api.get(
            f"/v1/consignments/{waiting.consignment_id}",
            headers=month_world.headers(waiting.carrier_id),
        )
        eta = status.json()["eta"]
        if eta["arrival_p50"] is not None:
            break
    assert eta["arrival_p50"] is not None
    created = await month_world.register(waiting.carrier_id, receiver.url("/eta"), ["eta"])
    await month_world.update(
        waiting.consignment_id, waiting.carrier_id, "at_location", waiting.current_location
    )
    await eventually(lambda: _count(receiver.at("/eta"), 1))
    document = verified(created["secret"], receiver.at("/eta")[0])
    assert document["type"] == "consignment.eta_changed"
    pushed = document["data"]["eta"]
    assert (pushed["arrival_p50"], pushed["arrival_p90"], pushed["destination"]) == (
        eta["arrival_p50"],
        eta["arrival_p90"],
        eta["destination"],
    )
    # The same ETA is kept for the consignment dashboard.
    async with (
        await psycopg.AsyncConnection.connect(populated_database_url) as conn,
        conn.cursor() as cursor,
    ):
        await cursor.execute(
            "SELECT arrival_p50, arrival_p90 FROM consignment_eta WHERE consignment_id = %s",
            (waiting.consignment_id,),
        )
        kept = await cursor.fetchone()
    assert kept is not None
    assert kept == tuple(datetime.fromisoformat(eta[k]) for k in ("arrival_p50", "arrival_p90"))
    # The same word again: the ETA has not moved past the threshold, nothing more is sent.
    await month_world.update(
        waiting.consignment_id, waiting.carrier_id, "at_location", waiting.current_location
    )
    await asyncio.sleep(1.5)
    assert len(receiver.at("/eta")) == 1
