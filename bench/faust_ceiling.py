"""The framework's own ceiling: a Faust agent that takes the events and does nothing.

    python -m bench.faust_ceiling TOPIC TOTAL [--bootstrap H:P] [--batch N] [--within S]
                                              [--stream-buffer N]

It consumes TOPIC exactly as the tracker's agent does (same transport and settings,
`take_events` with the tracker's batch size and window, at-least-once acks) but
neither decodes nor stores anything, and exits 0 once it has taken TOTAL events.
`bench.tracker_throughput` times it from launch to exit, like the tracker, so the
three figures (bare aiokafka consumer, this, the tracker) show how much of the gap
is the stream framework and how much is the tracker's own work.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import uuid
from typing import Any

import faust

from services.tracker.settings import TrackerSettings
from services.tracker.transport import use_direct_delivery
from services.tracker.worker import QuietWorker


def create_app(
    topic_name: str, total: int, bootstrap: str, batch: int, within: float, stream_buffer: int
) -> Any:
    app = faust.App(
        f"faust-ceiling-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{bootstrap}",
        store="memory://",
        datadir=tempfile.mkdtemp(prefix="faust-ceiling-"),
        web_enabled=False,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        topic_allow_declare=False,
        key_serializer="raw",
        value_serializer="raw",
        stream_buffer_maxsize=stream_buffer,
        Worker=QuietWorker,
    )
    use_direct_delivery(app)  # as the tracker's
    topic = app.topic(topic_name, key_serializer="raw", value_serializer="raw")
    taken = 0

    @app.agent(topic)
    async def take_only(stream: Any) -> None:
        nonlocal taken
        async for events in stream.take_events(batch, within=within):
            taken += len(events)
            if taken >= total:
                logging.shutdown()
                os._exit(0)  # the figure is launch-to-exit; nothing to clean up

    return app


def main() -> None:
    defaults = TrackerSettings.model_fields
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("topic")
    parser.add_argument("total", type=int)
    parser.add_argument("--bootstrap", default="127.0.0.1:39092")
    parser.add_argument("--batch", type=int, default=defaults["tracker_batch_size"].default)
    parser.add_argument("--within", type=float, default=defaults["tracker_batch_seconds"].default)
    parser.add_argument(
        "--stream-buffer", type=int, default=defaults["tracker_stream_buffer"].default
    )
    args = parser.parse_args()
    app = create_app(
        args.topic, args.total, args.bootstrap, args.batch, args.within, args.stream_buffer
    )
    sys.argv = [sys.argv[0], "worker", "-l", "warn"]
    app.main()


if __name__ == "__main__":
    main()
