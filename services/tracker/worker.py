"""The Faust worker the tracker runs under: faust's, minus the terminal spinner.

At the default log level (WARN) faust's worker animates a spinner on every log record:
it sets the root logger to DEBUG and adds a handler that advances the spinner. Every
`log.debug` in aiokafka and faust (one per record produced) then builds a `LogRecord`,
~3 % of the tracker's time in profiles, long after start-up, when nobody watches a
terminal. Without the spinner the root logger keeps the level asked for.
"""

from __future__ import annotations

import logging

import faust


class QuietWorker(faust.Worker):
    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)
