"""The tracker's batch loop: decode, note progress, track, isolate poison, ack, collect.

The policy, in one place:

- **Offsets move only past stored records.** A batch is acked after its transaction
  commits (or after its poison records are dead-lettered), never before.
- **An outage waits.** The store retries `OperationalError` / `PoolTimeout` with backoff
  until the database answers; the partition simply stops advancing.
- **A poison record is isolated.** A record that is no event, or a batch that fails for
  any other reason, is bisected until each failing record stands alone; those go to the
  dead letters (topic, table, alert) and the rest of the batch is stored.
- **A database restored from a backup rewinds.** When the database holds less of a
  partition than this process stored there (`DatabaseBehind`), the cached histories are
  dropped and the consumer reads again from the database's offsets (a rejoin: the new
  assignment seeks there). The refused batch is acked all the same: where the database is
  behind, its offsets, not the group's, say where to read from, and a rebalance waits
  for every record taken to be acked.
- **Anything else crashes unacked.** If isolating fails, or more records fail than
  poison plausibly explains (a bug or a broken dependency, not bad input), the process
  exits at once, before the batch could be acked, so a restart replays it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Mapping, Sequence
from typing import Any, NoReturn, Protocol

from corridor.cloudevents import from_kafka_record
from corridor.errors import CorridorError
from corridor.events import TransitEvent
from corridor.model import Timeline
from services.tracker.gc_pacing import BatchPacedCollection
from storage.dead_letters import DeadLetter
from storage.progress import DatabaseBehind, Partition, PartitionProgress

log = logging.getLogger(__name__)

EXIT_UNEXPECTED = 70  # EX_SOFTWARE: crash without acking, so the batch is replayed
# More poison than this in one batch is no bad input but a fault of the tracker or a
# dependency: better to stop unacked than to dead-letter the stream.
MAX_DEAD_LETTERS_PER_BATCH = 100
# After asking to read a restored database's partitions again: the rebalance that does it
# takes a moment, and the batches taken meanwhile are refused the same way.
REWIND_PAUSE_SECONDS = 1.0

Progress = dict[Partition, PartitionProgress]
Rewind = Callable[[Mapping[Partition, int]], Awaitable[None]]


class Tracker(Protocol):
    async def track(
        self, events: Sequence[TransitEvent], progress: Progress | None = None
    ) -> list[Timeline]: ...


class StateBinding(Protocol):
    def bind(self, events_by_consignment: dict[str, Any]) -> None: ...


class DeadLetters(Protocol):
    async def isolate(self, letters: Sequence[DeadLetter]) -> None: ...


class TooMuchPoison(Exception):
    """More records of one batch failed than poison plausibly explains."""


def exit_unacked(reason: str) -> NoReturn:
    log.critical("%s; exiting unacked", reason)
    logging.shutdown()
    os._exit(EXIT_UNEXPECTED)


def record_headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers
    return list(headers.items()) if isinstance(headers, dict) else list(headers or [])


def decode(stream_event: Any) -> TransitEvent:
    """The event a stream event's record carries; raises for a record that is none."""
    message = stream_event.message
    return from_kafka_record(message.key, message.value, record_headers(message))


def one_line(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:2000]


def dead_letter(stream_event: Any, error: BaseException) -> DeadLetter:
    message = stream_event.message
    key = message.key
    return DeadLetter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=key,
        value=message.value,
        headers=tuple(record_headers(message)),
        consignment_id=key.decode(errors="replace") if key else None,
        error=one_line(error),
    )


class TrackingLoop:
    """Runs batches of stream events through `tracker`, acking each once it is settled."""

    def __init__(
        self,
        tracker: Tracker,
        states: StateBinding,
        dead_letters: DeadLetters,
        ack: Callable[[Sequence[Any]], None],
        collection: BatchPacedCollection | None = None,
        crash: Callable[[str], NoReturn] = exit_unacked,
        rewind: Rewind | None = None,
    ) -> None:
        self._tracker = tracker
        self._states = states
        self._dead_letters = dead_letters
        self._ack = ack
        self._collection = collection
        self._crash = crash
        self._rewind = rewind

    async def run(self, batches: AsyncIterable[list[Any]]) -> None:
        async for batch in batches:
            await self.settle(batch)
            # Let go of the batch before collecting, so its objects are freed, not walked.
            del batch
            if self._collection is not None:
                self._collection.after_batch()

    async def settle(self, batch: list[Any]) -> None:
        """Store or dead-letter every record of `batch`, then ack it."""
        decoded: list[TransitEvent] = []
        sources: list[Any] = []
        stream_events: dict[str, Any] = {}
        poison: list[DeadLetter] = []
        for stream_event in batch:
            try:
                event = decode(stream_event)
            except (CorridorError, ValueError) as exc:
                poison.append(dead_letter(stream_event, exc))
                continue
            decoded.append(event)
            sources.append(stream_event)
            stream_events[event.consignment_id] = stream_event
        try:
            if decoded:
                self._states.bind(stream_events)
                poison += await self._track(decoded, sources, batch)
            if poison:
                await self._dead_letters.isolate(poison)
        except DatabaseBehind as behind:
            await self._read_again(behind, len(batch))
        except Exception as exc:
            log.exception("unexpected failure on a batch of %d records", len(batch))
            self._crash(f"{type(exc).__name__} on a batch of {len(batch)} records")
        finally:
            self._states.bind({})
        # Stored or dead-lettered (or to be read again from the database's offsets): now
        # the offsets may be committed.
        self._ack(batch)

    async def _read_again(self, behind: DatabaseBehind, records: int) -> None:
        if self._rewind is None:
            self._crash(f"{behind} on a batch of {records} records")
        log.warning("%s: reading those partitions again from the database's offsets", behind)
        await self._rewind(behind.resume_at)
        await asyncio.sleep(REWIND_PAUSE_SECONDS)

    async def _track(
        self, events: list[TransitEvent], sources: list[Any], batch: list[Any]
    ) -> list[DeadLetter]:
        """Track `events`; returns the dead letters among them (usually none)."""
        started = time.perf_counter()
        try:
            timelines = await self._tracker.track(events, progress_of(events, sources, batch))
        except DatabaseBehind:
            raise
        except Exception as exc:
            log.warning("a batch of %d events failed (%r); isolating the poison", len(events), exc)
            poison: list[DeadLetter] = []
            await self._bisect(events, sources, exc, poison)
            return poison
        log.info(
            "tracked %d events of %d consignments in %.3f s",
            len(events),
            len(timelines),
            time.perf_counter() - started,
        )
        return []

    async def _bisect(
        self,
        events: list[TransitEvent],
        sources: list[Any],
        error: Exception,
        poison: list[DeadLetter],
    ) -> None:
        """Track what of `events` (which failed with `error`) can be tracked; add each
        record that fails on its own to `poison`."""
        if len(events) == 1:
            poison.append(dead_letter(sources[0], error))
            if len(poison) > MAX_DEAD_LETTERS_PER_BATCH:
                raise TooMuchPoison(f"over {MAX_DEAD_LETTERS_PER_BATCH} records failed") from error
            return
        middle = len(events) // 2
        for part, part_sources in (
            (events[:middle], sources[:middle]),
            (events[middle:], sources[middle:]),
        ):
            try:
                await self._tracker.track(part, progress_of(part, part_sources))
            except DatabaseBehind:
                raise
            except Exception as exc:
                await self._bisect(part, part_sources, exc, poison)


def progress_of(
    events: Sequence[TransitEvent], sources: Sequence[Any], batch: Sequence[Any] = ()
) -> Progress:
    """How far `events` (read from `sources`) go in each (topic, partition): the newest
    event time and the offset after the last record. The offsets of `batch` (the records
    the events came with, the undecodable ones included) count for partitions it shares
    with them: those are dead-lettered, which is stored too."""
    progress: Progress = {}
    for event, source in zip(events, sources, strict=True):
        message = source.message
        read_from = (message.topic, message.partition)
        known = progress.get(read_from)
        if known is None:
            progress[read_from] = PartitionProgress(event.occurred_at, message.offset + 1)
        else:
            progress[read_from] = PartitionProgress(
                max(known.event_time, event.occurred_at),
                max(known.next_offset, message.offset + 1),
            )
    for record in batch:
        message = record.message
        known = progress.get((message.topic, message.partition))
        if known is not None and message.offset >= known.next_offset:
            progress[message.topic, message.partition] = known._replace(
                next_offset=message.offset + 1
            )
    return progress
