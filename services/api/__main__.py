"""`python -m services.api`: the one wiring place of the API service.

Reads settings from the environment, waits (bounded) for PostgreSQL, then serves with
uvicorn. Bad settings or a database that never answers end start-up with a message
naming the cause, and exit status 1.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
from datetime import UTC, datetime

import uvicorn

from corridor.errors import ReferenceDataError
from services.api.app import create_app
from services.api.settings import ApiSettings
from services.common.eta import CachedEtaStatistics
from services.common.keystore import PostgresKeyStore
from services.common.reference_data import load_corridor_reference
from services.common.settings import SettingsError, load_settings
from storage.db import DatabaseUnavailableError, create_pool, wait_for_database
from storage.queries.api import ApiQueries
from storage.queries.eta import EtaQueries
from storage.queries.keys import KeyQueries
from storage.queries.webhooks import WebhookStore


async def serve(settings: ApiSettings) -> None:
    reference = load_corridor_reference(settings.customs_offices_extra_file)
    await wait_for_database(settings.dsn, timeout=settings.api_startup_timeout_seconds)
    pool = create_pool(
        settings.dsn,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        name="api",
    )
    async with pool:
        app = create_app(
            settings,
            reads=ApiQueries(pool),
            key_store=PostgresKeyStore(KeyQueries(pool)),
            reference=reference,
            now=lambda: datetime.now(UTC),
            eta_statistics=CachedEtaStatistics(
                EtaQueries(pool), ttl=settings.api_eta_statistics_seconds
            ),
            webhook_store=WebhookStore(pool),
        )
        # Everything built so far lives as long as the process: frozen, the full collections
        # a large report's allocations trigger need not walk it (docs/api.md).
        gc.freeze()
        config = uvicorn.Config(
            app, host=settings.api_host, port=settings.api_port, log_level="info", access_log=False
        )
        await uvicorn.Server(config).serve()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(ApiSettings)
        asyncio.run(serve(settings))
    except (SettingsError, ReferenceDataError, DatabaseUnavailableError) as exc:
        print(f"api: cannot start: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
