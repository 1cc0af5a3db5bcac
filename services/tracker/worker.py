"""The Faust worker the tracker runs under: faust's, minus the terminal spinner and the
monitor's per-record bookkeeping.

At the default log level (WARN) faust's worker animates a spinner on every log record:
it sets the root logger to DEBUG and adds a handler that advances the spinner. Every
`log.debug` in aiokafka and faust (one per record produced) then builds a `LogRecord`,
~3 % of the tracker's time in profiles, long after start-up, when nobody watches a
terminal. Without the spinner the root logger keeps the level asked for.
"""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.sensors import Monitor


class QuietWorker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class QuietMonitor(Monitor):
    """faust's monitor, without its four calls per record.

    faust tells its monitor about every record as it comes in, enters a stream, leaves
    it and is acked: counters, timestamps and a state dict per event, kept for faust's
    web statistics page, which the tracker neither serves nor reads (~2 % of a worker's
    CPU in profiles). Everything else the monitor tracks (commits, end offsets, tables,
    the producer) is kept.
    """

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None

    def on_stream_event_in(
        self, tp: Any, offset: int, stream: Any, event: Any
    ) -> dict[str, Any] | None:
        return None  # no state to hand to on_stream_event_out

    def on_stream_event_out(
        self, tp: Any, offset: int, stream: Any, event: Any, state: Any = None
    ) -> None:
        return None

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        return None
