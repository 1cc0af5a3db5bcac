"""Running real tracker workers against the test broker and database, and reading back.

The workers are `python -m services.tracker worker` subprocesses, so a test can
SIGKILL one exactly as an operator's machine would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer

from corridor.cloudevents import to_kafka_record
from corridor.events import TransitEvent
from simulator import GroundTruth

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(length: int, start: int) -> int:
    """The first of `length` consecutive free loopback ports from `start` on (a broker's or
    a cluster's ports, which its config derives from the first)."""
    for first in range(start, start + 500, length):
        if all(_free(port) for port in range(first, first + length)):
            return first
    raise RuntimeError(f"no run of {length} free ports in {start}-{start + 499}")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) != 0


async def produce(bootstrap: str, topic: str, events: Iterable[TransitEvent]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        pending = []
        for event in events:
            record = to_kafka_record(event)
            pending.append(
                await producer.send(
                    topic, key=record.key, value=record.value, headers=record.headers
                )
            )
        await asyncio.gather(*pending)
        return len(pending)
    finally:
        await producer.stop()


@dataclass
class TrackerWorkers:
    """One or more tracker worker processes of one Faust app (one consumer group)."""

    bootstrap: str
    topic_prefix: str
    database_url: str
    data_dir: Path
    app_id: str = field(default_factory=lambda: f"tracker-test-{uuid.uuid4().hex[:8]}")
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self, index: int) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "KAFKA_TOPIC_PREFIX": self.topic_prefix,
            "DATABASE_URL": self.database_url,
            "TRACKER_APP_ID": self.app_id,
            "TRACKER_STORE": "memory://",
            "TRACKER_DATA_DIR": str(self.data_dir / f"worker-{index}"),
            "TRACKER_WEB_PORT": str(free_port()),
            "TRACKER_BATCH_SECONDS": "0.2",
            "TRACKER_OVERDUE_SCAN_SECONDS": "2",
            "TRACKER_SESSION_TIMEOUT_SECONDS": "6",
        }

    def log_file(self, index: int) -> Path:
        return self.data_dir / f"worker-{index}.log"

    def start(self, index: int = 0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(index).open("ab") as log:
            self.processes[index] = subprocess.Popen(
                [sys.executable, "-m", "services.tracker", "worker", "-l", "info"],
                cwd=REPO_ROOT,
                env=self.env(index),
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self, index: int = 0) -> None:
        process = self.processes.pop(index)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for index in list(self.processes):
            process = self.processes.pop(index)
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes.values())

    def log_of(self, index: int) -> str:
        return self.log_file(index).read_text(errors="replace")

    def logs(self) -> str:
        return "\n".join(
            f"--- worker {i} ---\n" + self.log_file(i).read_text(errors="replace")[-4000:]
            for i in sorted(int(p.stem.split("-")[1]) for p in self.data_dir.glob("worker-*.log"))
        )


def stored_event_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(DISTINCT event_id) FROM transit_events").fetchone()
    return int(row[0]) if row else 0


def database_snapshot(database_url: str) -> dict[str, Any]:
    """What the tracker derived, per consignment, in the shape of the ground truth."""
    with psycopg.connect(database_url) as conn:
        stays = conn.execute(
            "SELECT consignment_id, location, visit, arrived_at, released_at, departed_at,"
            " status, dwell_seconds FROM stays ORDER BY 1, 4, 2"
        ).fetchall()
        crossings = conn.execute(
            "SELECT consignment_id, border_id, from_location, to_location, direction,"
            " arrived_at, departed_at, tfi1_seconds FROM crossings ORDER BY 1, 6, 2"
        ).fetchall()
        legs = conn.execute(
            "SELECT consignment_id, from_location, to_location, departed_at, arrived_at,"
            " distance_km, travel_seconds FROM legs ORDER BY 1, 4, 2"
        ).fetchall()
        states = conn.execute(
            "SELECT consignment_id, state, current_location FROM consignments ORDER BY 1"
        ).fetchall()
        raw = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM transit_events"
        ).fetchone()
    return {
        "stays": [tuple(r) for r in stays],
        "crossings": [tuple(r) for r in crossings],
        "legs": [tuple(r) for r in legs],
        "states": [tuple(r) for r in states],
        "raw_events": tuple(raw) if raw else (0, 0),
    }


def truth_snapshot(truth: GroundTruth) -> dict[str, Any]:
    stays, crossings, legs, states = [], [], [], []
    for c in sorted(truth.consignments.values(), key=lambda c: c.consignment_id):
        states.append((c.consignment_id, c.state.value, c.current_location))
        stays += [
            (
                s.consignment_id,
                s.location,
                s.visit,
                s.arrived_at,
                s.released_at,
                s.departed_at,
                s.status.value,
                s.dwell_seconds,
            )
            for s in c.stays
        ]
        crossings += [
            (
                x.consignment_id,
                x.border_id,
                x.from_location,
                x.to_location,
                x.direction,
                x.arrived_at,
                x.departed_at,
                x.tfi1_seconds,
            )
            for x in c.crossings
        ]
        legs += [
            (
                leg.consignment_id,
                leg.from_location,
                leg.to_location,
                leg.departed_at,
                leg.arrived_at,
                leg.distance_km,
                leg.travel_seconds,
            )
            for leg in c.legs
        ]
    return {
        "stays": sorted(stays, key=lambda r: (r[0], r[3], r[1])),
        "crossings": sorted(crossings, key=lambda r: (r[0], r[5], r[1])),
        "legs": sorted(legs, key=lambda r: (r[0], r[3], r[1])),
        "states": states,
    }


async def wait_until_converged(
    workers: TrackerWorkers, expected: dict[str, Any], distinct_events: int, within_seconds: float
) -> dict[str, Any]:
    """Poll the database until it holds every event and matches `expected`, or time out."""
    deadline = time.monotonic() + within_seconds
    snapshot: dict[str, Any] = {}
    while time.monotonic() < deadline:
        snapshot = database_snapshot(workers.database_url)
        if snapshot["raw_events"][1] == distinct_events and all(
            snapshot[key] == expected[key] for key in expected
        ):
            return snapshot
        if not workers.alive():
            break
        await asyncio.sleep(1.0)
    return snapshot


def first_difference(actual: list[Any], expected: list[Any]) -> str:
    for index, (a, e) in enumerate(zip(actual, expected, strict=False)):
        if a != e:
            return f"row {index}: database {a!r} != truth {e!r}"
    return f"lengths differ: database {len(actual)} rows, truth {len(expected)} rows"
