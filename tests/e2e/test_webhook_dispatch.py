"""`make up`'s webhook dispatcher, as the process it runs: a carrier registers an endpoint
on 127.0.0.1 through the API, a border system's events go in through the ingest, and a
signed delivery about the carrier's consignment reaches the endpoint."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from simulator import HttpSink, SimulationConfig, replay, simulate
from tests.e2e.conftest import CARRIER_A, Stack

# Its own few consignments, numbered past the other tests' so they cannot meet.
CONFIG = SimulationConfig(
    seed=47, consignments=3, days=2, carriers=(CARRIER_A,), first_serial=900_001
)


class Receiver:
    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.port = 0

    def bodies(self) -> list[tuple[dict[str, str], bytes]]:
        with self.lock:
            return list(self.received)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            with state.lock:
                state.received.append((dict(self.headers.items()), body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


async def test_the_running_dispatcher_delivers_a_signed_webhook(
    stack: Stack, receiver: Receiver
) -> None:
    carrier = {"Authorization": f"Bearer {stack.keys['carrier_a']}"}
    async with httpx.AsyncClient(base_url=stack.api_url, headers=carrier) as api:
        created = await api.post(
            "/v1/webhooks/endpoints",
            json={"url": f"http://127.0.0.1:{receiver.port}/hook", "kinds": ["state"]},
        )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]

    result = simulate(CONFIG)
    ours = {journey.consignment_id for journey in result.journeys}
    async with httpx.AsyncClient(base_url=stack.ingest_url, timeout=30) as ingest:
        await replay(list(result.deliveries), HttpSink(ingest, stack.keys["publisher"]))

    def ours_delivered() -> list[dict[str, Any]]:
        documents = []
        for headers, body in receiver.bodies():
            lowered = {name.lower(): value for name, value in headers.items()}
            Webhook(secret).verify(body, lowered)  # raises unless signed with the secret
            documents.append(json.loads(body))
        return [d for d in documents if d["data"]["consignment_id"] in ours]

    for _ in range(240):
        if ours_delivered():
            break
        await asyncio.sleep(0.25)
    delivered = ours_delivered()
    assert delivered, stack.logs()
    assert delivered[0]["type"] == "consignment.state_changed"
