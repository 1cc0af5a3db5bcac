"""`python -m services.ingest`: the one wiring place of the ingest service.

Reads settings from the environment, waits (bounded) for PostgreSQL and Kafka, then
serves with uvicorn. A dependency that never comes up ends start-up with a message
naming it, and exit status 1.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta

import uvicorn
from tenacity import (
    AsyncRetrying,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

from corridor.errors import ReferenceDataError
from services.common.keystore import PostgresKeyStore
from services.common.reference_data import load_corridor_reference
from services.common.settings import SettingsError, load_settings
from services.ingest.adapters import ncts
from services.ingest.adapters.ncts_xsd import OfficialXsds
from services.ingest.app import create_app
from services.ingest.pg_directory import PostgresConsignmentDirectory
from services.ingest.publisher import BrokerUnavailable, KafkaEventPublisher
from services.ingest.receipts import SharedAcceptedEvents
from services.ingest.settings import IngestSettings
from storage.db import DatabaseUnavailableError, create_pool, wait_for_database
from storage.queries.directory import DirectoryQueries
from storage.queries.keys import KeyQueries
from storage.receipts import ReceiptRepository

log = logging.getLogger("services.ingest")


class KafkaUnavailableError(RuntimeError):
    pass


async def wait_for_kafka(publisher: KafkaEventPublisher, within_seconds: float) -> None:
    """Connect the producer, retrying with backoff until `within_seconds` have passed."""
    try:
        async for attempt in AsyncRetrying(
            stop=stop_after_delay(within_seconds),
            wait=wait_exponential(multiplier=0.5, max=5.0),
            retry=retry_if_exception_type(BrokerUnavailable),
            before_sleep=lambda state: log.info(
                "Kafka not ready (attempt %d)", state.attempt_number
            ),
        ):
            with attempt:
                await publisher.start()
    except RetryError as error:
        raise KafkaUnavailableError(
            f"Kafka not reachable after {within_seconds:g}s: {error.last_attempt.exception()}; "
            "is the broker running (`python -m infra.kafka up`) and KAFKA_BOOTSTRAP_SERVERS right?"
        ) from None


async def serve(settings: IngestSettings) -> None:
    reference = load_corridor_reference(settings.customs_offices_extra_file)
    ncts_xsds = (
        None
        if settings.ingest_ncts_xsd_dir is None
        else OfficialXsds.load(settings.ingest_ncts_xsd_dir, ncts.message_types())
    )
    await wait_for_database(settings.dsn, timeout=settings.ingest_startup_timeout_seconds)
    publisher = KafkaEventPublisher(
        settings.bootstrap_servers, settings.events_topic, settings.ingest_publish_timeout_seconds
    )
    await wait_for_kafka(publisher, settings.ingest_startup_timeout_seconds)
    pool = create_pool(
        settings.dsn,
        min_size=settings.database_pool_min,
        max_size=settings.database_pool_max,
        name="ingest",
    )
    try:
        async with pool:
            app = create_app(
                settings,
                publisher=publisher,
                key_store=PostgresKeyStore(KeyQueries(pool)),
                reference=reference,
                directory=PostgresConsignmentDirectory(DirectoryQueries(pool)),
                now=lambda: datetime.now(UTC),
                ncts_xsds=ncts_xsds,
                accepted_events=SharedAcceptedEvents(
                    ReceiptRepository(pool),
                    timedelta(hours=settings.ingest_receipt_retention_hours),
                ),
            )
            config = uvicorn.Config(
                app,
                host=settings.ingest_host,
                port=settings.ingest_port,
                log_level="info",
                access_log=False,
            )
            await uvicorn.Server(config).serve()
    finally:
        await publisher.stop()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = load_settings(IngestSettings)
        asyncio.run(serve(settings))
    except (
        SettingsError,
        ReferenceDataError,
        DatabaseUnavailableError,
        KafkaUnavailableError,
    ) as exc:
        print(f"ingest: cannot start: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
