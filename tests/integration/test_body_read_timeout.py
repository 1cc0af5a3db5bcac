"""A trickled request body is cut off with a 408 problem, on a real uvicorn server.

The services run their own app factories with in-memory ports on 127.0.0.1, and a raw
socket sends a body a few bytes at a time, the way a slow-loris client (or a broken
proxy) would.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import uvicorn
from fastapi import FastAPI

from corridor.reference import load_reference
from services.api.app import create_app as create_api
from services.api.memory import InMemoryReads
from services.api.settings import ApiSettings
from services.common.keys import Role
from services.ingest import create_app as create_ingest
from services.ingest.memory import InMemoryDirectory, InMemoryKeyStore, RecordingPublisher
from tests.unit.test_ingest_api import settings as ingest_settings

TIMEOUT = 1.0
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _serve(app: FastAPI) -> AsyncIterator[int]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _trickle(port: int, path: str, key: str, seconds: float) -> tuple[bytes, float]:
    """Send headers promising 1000 bytes, then one byte every 0.2 s; the answer, and when."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    started = time.monotonic()
    writer.write(head.encode() + b"[")
    await writer.drain()

    async def drip() -> None:
        while time.monotonic() - started < seconds:
            await asyncio.sleep(0.2)
            writer.write(b" ")
            await writer.drain()

    dripping = asyncio.create_task(drip())
    try:
        answer = await asyncio.wait_for(reader.read(65536), timeout=seconds)
    finally:
        dripping.cancel()
        writer.close()
    return answer, time.monotonic() - started


@pytest.fixture
async def ingest() -> AsyncIterator[tuple[int, str]]:
    keys = InMemoryKeyStore()
    key = keys.add("Nur Zholy BCP", locations=["KZ-NUR-ZHOLY"])
    app = create_ingest(
        ingest_settings(ingest_body_timeout_seconds=TIMEOUT),
        publisher=RecordingPublisher(),
        key_store=keys,
        reference=load_reference(),
        directory=InMemoryDirectory(),
        now=lambda: NOW,
    )
    async for port in _serve(app):
        yield port, key


async def test_a_trickled_body_is_cut_off_with_a_408_problem(ingest: tuple[int, str]) -> None:
    port, key = ingest
    answer, took = await _trickle(port, "/v1/events", key, seconds=10 * TIMEOUT)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(body)["errors"] == [{"field": "body", "rule": "sent too slowly"}]
    assert TIMEOUT <= took < 3 * TIMEOUT


async def test_a_body_that_arrives_in_time_is_served() -> None:
    keys = InMemoryKeyStore()
    key = keys.add("Nur Zholy BCP", locations=["KZ-NUR-ZHOLY"])
    app = create_ingest(
        ingest_settings(ingest_body_timeout_seconds=TIMEOUT),
        publisher=RecordingPublisher(),
        key_store=keys,
        reference=load_reference(),
        directory=InMemoryDirectory(),
        now=lambda: NOW,
    )
    async for port in _serve(app):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body = b"[]"
        writer.write(
            f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        await asyncio.sleep(0.3)
        writer.write(body)
        answer = await asyncio.wait_for(reader.read(65536), timeout=5)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 422"), answer[:200]  # an empty batch, read in full


async def test_the_api_is_not_held_by_a_trickled_body() -> None:
    keys = InMemoryKeyStore()
    key = keys.add("operator", role=Role.OPERATOR)
    app = create_api(
        ApiSettings(database_url="postgresql://u@h/db", api_body_timeout_seconds=TIMEOUT),
        reads=InMemoryReads(),
        key_store=keys,
        reference=load_reference(),
        now=lambda: NOW,
    )
    async for port in _serve(app):
        answer, took = await _trickle(port, "/v1/alerts", key, seconds=10 * TIMEOUT)
        assert answer.startswith((b"HTTP/1.1 405", b"HTTP/1.1 408")), answer[:200]
        assert took < 3 * TIMEOUT
