"""`python -m services.dispatcher`: carriers' webhooks, from the derived topics.

Waits (bounded) for PostgreSQL, joins the consumer group, serves Prometheus metrics on
127.0.0.1:DISPATCHER_METRICS_PORT and runs until stopped. Bad settings or a database
that never answers end start-up with a message naming the cause, and exit status 1.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from prometheus_client import start_http_server

from corridor.errors import ReferenceDataError
from services.common.settings import SettingsError, load_settings
from services.dispatcher.bootstrap import dispatcher
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.settings import DispatcherSettings
from storage.db import DatabaseUnavailableError, wait_for_database


async def serve(settings: DispatcherSettings) -> None:
    await wait_for_database(settings.dsn, timeout=settings.dispatcher_startup_timeout_seconds)
    metrics = DispatcherMetrics.create()
    if settings.dispatcher_metrics_port:
        start_http_server(settings.dispatcher_metrics_port, "127.0.0.1", metrics.registry)
    async with dispatcher(settings, metrics) as running:
        logging.getLogger("dispatcher").info("dispatching webhooks")
        await running.run()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(DispatcherSettings)
        asyncio.run(serve(settings))
    except (SettingsError, ReferenceDataError, DatabaseUnavailableError) as exc:
        print(f"dispatcher: cannot start: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
