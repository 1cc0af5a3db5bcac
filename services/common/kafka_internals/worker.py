"""faust's worker and monitor without what nothing here reads (spinner, per-record stats)."""

from __future__ import annotations

import logging
from typing import Any

import faust
from faust.sensors import Monitor


class QuietWorker(faust.Worker):
    """faust's worker without the terminal spinner, which turns the root logger to DEBUG
    so that every library debug call builds a log record."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class QuietMonitor(Monitor):
    """faust's monitor without its bookkeeping of each record received, which only feeds
    faust's web statistics page (nothing serves or reads it). Commits, end offsets,
    tables and the producer are still followed. Its per-event stream hooks need no
    override: batches are taken off the channel queue, past the stream's iterator that
    calls them, and `ack_events` leaves the sensors out."""

    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        return None
