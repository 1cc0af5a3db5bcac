"""`python -m services.tracker dead-letters list|replay ID`: what the tracker set aside.

`replay` re-publishes a dead letter's record, exactly as it was read (key, value,
headers), to the events topic, and marks it replayed. Fix the cause first (a widened
column, a corrected publisher): a record that fails again becomes a new dead letter.
Reads KAFKA_* and DATABASE_URL from the environment (or .env), as the worker does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, TypeVar

import typer
from aiokafka import AIOKafkaProducer

from services.common.settings import settings_or_exit
from services.tracker.settings import TrackerSettings
from storage.db import with_pool
from storage.dead_letters import DeadLetterRepository, StoredDeadLetter

app = typer.Typer(help="List and replay the tracker's dead letters.", no_args_is_help=True)
T = TypeVar("T")


def _run(work: Callable[[TrackerSettings, DeadLetterRepository], Awaitable[T]]) -> T:
    settings = settings_or_exit(TrackerSettings)
    return asyncio.run(
        with_pool(
            settings.dsn, "dead-letters", lambda pool: work(settings, DeadLetterRepository(pool))
        )
    )


def describe(stored: StoredDeadLetter) -> str:
    letter = stored.letter
    state = f"replayed {stored.replayed_at:%Y-%m-%dT%H:%M:%SZ}" if stored.replayed_at else "waiting"
    return (
        f"{stored.id}\t{stored.failed_at:%Y-%m-%dT%H:%M:%SZ}\t{state}\t"
        f"{letter.topic}[{letter.partition}]@{letter.offset}\t{letter.consignment_id or '-'}\t"
        f"{' '.join(letter.error.split())}"
    )


@app.command("list")
def list_letters(
    after: Annotated[int, typer.Option(help="Only dead letters with an id above this.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    waiting: Annotated[bool, typer.Option(help="Only those not replayed yet.")] = False,
) -> None:
    """One line per dead letter: id, failed at, state, record, consignment, error."""
    letters = _run(lambda _, repository: repository.list(after, limit, waiting_only=waiting))
    for stored in letters:
        typer.echo(describe(stored))


@app.command()
def replay(letter_id: Annotated[int, typer.Argument(help="The dead letter's id.")]) -> None:
    """Re-publish the record to the events topic and mark the dead letter replayed."""

    async def work(settings: TrackerSettings, repository: DeadLetterRepository) -> str:
        stored = await repository.get(letter_id)
        if stored is None:
            raise typer.BadParameter(f"no dead letter {letter_id}", param_hint="LETTER_ID")
        await publish(settings, stored)
        await repository.mark_replayed(letter_id, datetime.now(UTC))
        return f"replayed {letter_id} to {settings.topic('transit-events')}"

    typer.echo(_run(work))


async def publish(settings: TrackerSettings, stored: StoredDeadLetter) -> None:
    letter = stored.letter
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        client_id="corridor-dead-letters",
    )
    await producer.start()
    try:
        await producer.send_and_wait(
            settings.topic("transit-events"),
            key=letter.key,
            value=letter.value,
            headers=list(letter.headers),
        )
    finally:
        await producer.stop()
