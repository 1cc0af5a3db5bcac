"""The framework's own ceilings: Faust agents that take the events and do (almost) nothing.

    python -m bench.faust_ceiling TOPIC TOTAL [--bootstrap H:P] [--batch N] [--within S]
                                              [--backlog-within S] [--stream-buffer N]
                                              [--store DSN]

It consumes TOPIC exactly as the tracker's agent does (same transport and settings,
`take_batches` with the tracker's batch size and windows, at-least-once acks) and exits
0 once it has taken TOTAL events. Without `--store` it neither decodes nor stores
anything. With `--store DSN` it does the least any correct tracker must: decode and
validate every record as the tracker does, and store the raw events with the storage
batch path (one transaction per batch, before the next is taken), but no domain logic.
`bench.tracker_throughput` times both from launch to exit, like the tracker, so the
figures (bare aiokafka consumer, these two, the tracker) show how much of the gap is
the stream framework, how much is decoding and storing the events at all, and how much
is the tracker's own work. Its last line of output is JSON with the CPU seconds it spent
(all threads), for the bench's CPU accounting.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import uuid
from typing import Any

import faust
import mode

from corridor.reference import load_reference
from services.common.kafka_internals import (
    QuietMonitor,
    QuietWorker,
    ack_events,
    use_direct_delivery,
)
from services.tracker.batch_window import BatchWindow, take_batches
from services.tracker.gc_pacing import BatchPacedCollection
from services.tracker.settings import TrackerSettings
from services.tracker.tracking_loop import decode
from storage.db import create_pool
from storage.writes import WriteRepository


def create_app(
    topic_name: str,
    total: int,
    bootstrap: str,
    batch: int,
    within: float,
    backlog_within: float,
    stream_buffer: int,
    store_dsn: str | None = None,
    collection: BatchPacedCollection | None = None,
) -> Any:
    data_dir = tempfile.mkdtemp(prefix="faust-ceiling-")
    app = faust.App(
        f"faust-ceiling-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=data_dir,
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        key_serializer="raw",
        value_serializer="raw",
        stream_buffer_maxsize=stream_buffer,
        Worker=QuietWorker,
        Monitor=QuietMonitor,  # as the tracker's
    )
    use_direct_delivery(app)  # as the tracker's
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    taken = 0
    writes = _storage(app, store_dsn) if store_dsn else None

    @app.agent(topic)
    async def take(stream: Any) -> None:
        nonlocal taken
        window = BatchWindow(batch, within=within, backlog_within=backlog_within)
        async for events in take_batches(stream, window):
            if writes is not None:
                decoded = [decode(event) for event in events]
                await writes.write_batch(events=decoded)  # one transaction, then the next
            ack_events(events)
            taken += len(events)
            del events
            if collection is not None:
                collection.after_batch()  # as the tracker's worker
            if taken >= total:
                # To the real stdout: the worker redirects `sys.stdout` into its logging.
                report = json.dumps({"taken": taken, "cpu_seconds": time.process_time()})
                os.write(1, f"{report}\n".encode())
                logging.shutdown()
                shutil.rmtree(data_dir, ignore_errors=True)
                os._exit(0)  # the figure is launch-to-exit; no orderly shutdown to wait for

    return app


def _storage(app: faust.App, dsn: str) -> WriteRepository:
    pool = create_pool(dsn, min_size=1, max_size=1, name="ceiling")

    @app.service
    class DatabasePool(mode.Service):  # opened with the worker, as the tracker's
        async def on_start(self) -> None:
            await pool.open(wait=True)

    return WriteRepository(pool, load_reference())


def main() -> None:
    defaults = TrackerSettings.model_fields
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("topic")
    parser.add_argument("total", type=int)
    parser.add_argument("--bootstrap", default="127.0.0.1:39092")
    parser.add_argument("--batch", type=int, default=defaults["tracker_batch_size"].default)
    parser.add_argument("--within", type=float, default=defaults["tracker_batch_seconds"].default)
    parser.add_argument(
        "--backlog-within",
        type=float,
        default=defaults["tracker_backlog_batch_seconds"].default,
    )
    parser.add_argument(
        "--stream-buffer", type=int, default=defaults["tracker_stream_buffer"].default
    )
    parser.add_argument(
        "--store", metavar="DSN", help="decode every record and store the raw events there"
    )
    args = parser.parse_args()
    collection = BatchPacedCollection()
    collection.take_over()  # as the tracker's worker
    app = create_app(
        args.topic,
        args.total,
        args.bootstrap,
        args.batch,
        args.within,
        args.backlog_within,
        args.stream_buffer,
        args.store,
        collection,
    )
    # `worker` starts faust's web server (0.0.0.0:6066) unless told not to, whatever
    # `web_enabled` says: it collided with any other faust worker on the machine.
    sys.argv = [sys.argv[0], "worker", "-l", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
