"""faust's aiokafka consumer and transport, bent so that no record is lost to a
rebalance: direct delivery, a fetch confined to one assignment, a seek that loses nothing."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.transport.consumer import RecordMap
from faust.transport.drivers import aiokafka as faust_aiokafka

from services.common.kafka_internals.delivery import DirectWaitFirst
from services.common.kafka_internals.producer import IdempotentProducer

log = logging.getLogger(__name__)

# Per (topic, partition) just assigned, the next offset the records' sink holds.
ResumePoints = Callable[[Sequence[tuple[str, int]]], Awaitable[Mapping[tuple[str, int], int]]]
# A sink that does not answer by then is skipped: its next write notices if it is behind.
RESUME_POINTS_TIMEOUT_SECONDS = 30.0


async def fetch_within_one_assignment(
    consumer: AIOKafkaConsumer, fetching: Awaitable[RecordMap]
) -> RecordMap:
    """The records `fetching` drains from `consumer`, or none if the group rebalanced
    meanwhile: those are put back (each partition sought to its first), for the next
    fetch to read under the assignment faust has resumed by then.

    A fetch waiting when the group rebalances goes on with faust's set of active
    partitions, which the rebalance empties, and aiokafka reads an empty set as every
    partition: it drains the changelog records table recovery has just sought to, and
    faust, not asking for them, drops them. Recovery then waits for them for ever."""
    started_under = _assignment(consumer)
    records = await fetching
    if not records or _assignment(consumer) is started_under:
        return records
    # Still the step that drained them: no seek of recovery's can have come in between.
    assigned = consumer.assignment()
    for tp, batch in records.items():
        if batch and tp in assigned:
            consumer.seek(tp, batch[0].offset)
    return {}


def _assignment(consumer: AIOKafkaConsumer) -> object:
    # aiokafka makes a new Assignment, with new positions, at each rebalance.
    subscription = consumer._subscription.subscription
    return subscription.assignment if subscription is not None else None


def position_known(consumer: AIOKafkaConsumer, tp: Any) -> bool:
    """Whether aiokafka knows where `tp` is read from: not so for a partition just
    assigned until its offset is reset or sought."""
    assignment = _assignment(consumer)
    if assignment is None:
        return False
    state = assignment.state_value(TopicPartition(tp.topic, tp.partition))  # type: ignore[attr-defined]
    return state is not None and bool(state.has_valid_position)


class SingleAssignmentFetchThread(faust_aiokafka.AIOKafkaConsumerThread):
    """faust's consumer thread, whose fetch hands over no record drained under an
    assignment newer than the one it started under (`fetch_within_one_assignment`), and
    whose stall check leaves alone a partition not yet positioned."""

    def verify_event_path(self, now: float, tp: Any) -> None:
        # faust's stall check (its commit livelock detector) reads each partition's
        # position, which aiokafka asserts is known: run right after a rebalance, it
        # crashed the consumer on a partition still waiting for its offset. A partition
        # not yet positioned has read nothing, so it cannot be stalled.
        if position_known(self._ensure_consumer(), tp):
            super().verify_event_path(now, tp)

    async def _fetch_records(
        self,
        consumer: AIOKafkaConsumer,
        active_partitions: Any,
        timeout: float | None = None,  # noqa: ASYNC109 (faust's signature)
        max_records: int | None = None,
    ) -> RecordMap:
        fetching = super()._fetch_records(
            consumer, active_partitions, timeout=timeout, max_records=max_records
        )
        return await fetch_within_one_assignment(consumer, fetching)


class DirectDeliveryConsumer(DirectWaitFirst, faust_aiokafka.Consumer):
    """faust's aiokafka consumer with direct delivery, a seek that loses nothing, and a
    fetch that loses nothing across a rebalance."""

    def _new_consumer_thread(self) -> SingleAssignmentFetchThread:
        return SingleAssignmentFetchThread(self, loop=self.loop, beacon=self.beacon)

    async def perform_seek(self) -> None:
        # Records queued during the seek would be emptied, untracked, when recovery
        # resumes flow: stop delivery first so everything is read again from the seek.
        # A caller that found flow stopped keeps it so.
        if self.flow_active:
            self.stop_flow()
        await super().perform_seek()

    async def seek_to_committed(self) -> Mapping[Any, int]:
        committed = await super().seek_to_committed()
        # aiokafka seeks only to offsets above 0: a never-committed partition would keep
        # a position past records dropped before. Start it over, as "earliest" would;
        # not the tables' changelogs, which faust restores by itself.
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            uncommitted = [
                tp
                for tp, offset in committed.items()
                if not offset and self.app.topics.acks_enabled_for(tp.topic)
            ]
            if uncommitted:
                await self._thread.seek_to_beginning(*uncommitted)
        transport = self.transport
        resume_points = (
            transport.resume_points if isinstance(transport, DirectDeliveryTransport) else None
        )
        if resume_points is None:
            return committed
        return await self._rewind_to_sink(committed, resume_points)

    async def _rewind_to_sink(
        self, committed: Mapping[Any, int], resume_points: ResumePoints
    ) -> Mapping[Any, int]:
        # The sink's offsets, kept with its rows, are the truth of what it holds: where
        # they are behind the group's (a restored database), read again from them.
        acking = [tp for tp in committed if self.app.topics.acks_enabled_for(tp.topic)]
        if not acking:
            return committed
        try:
            stored = await asyncio.wait_for(
                resume_points([(tp.topic, tp.partition) for tp in acking]),
                RESUME_POINTS_TIMEOUT_SECONDS,
            )
        except TimeoutError:
            log.error("no resume points within %.0f s", RESUME_POINTS_TIMEOUT_SECONDS)
            return committed
        seeked = dict(committed)
        for tp in acking:
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None and offset < (committed[tp] or 0):
                log.warning(
                    "%s: the database holds up to %d, the group %d: reading again",
                    tp,
                    offset,
                    committed[tp],
                )
                await self.seek(tp, offset)
                seeked[tp] = offset
        return seeked


class DirectDeliveryTransport(faust_aiokafka.Transport):
    Consumer = DirectDeliveryConsumer
    Producer = IdempotentProducer
    resume_points: ResumePoints | None = None


def use_direct_delivery(app: faust.App, resume_points: ResumePoints | None = None) -> None:
    """Give `app` the direct-delivery transport (and an idempotent producer). Call right
    after creating the app, before anything (topics, tables, agents) builds its own.
    `resume_points`: after each assignment, where the records' sink (the database) says
    it stands; a partition the group has committed further is read again from there."""
    transport = DirectDeliveryTransport(app.conf.broker_consumer, app)
    transport.resume_points = resume_points
    app.transport = transport


async def read_assignment_again(app: faust.App) -> None:
    """Have `app`'s consumer rejoin its group: the rebalance revokes and assigns its
    partitions again, drops what was read meanwhile and seeks (see `seek_to_committed`)."""
    thread = app.consumer._thread  # type: ignore[attr-defined]
    # Cast, not call: a rebalance under way holds the consumer thread until the stream's
    # records are acked, and the caller is the stream.
    await thread.cast_thread(_request_rejoin, thread._ensure_consumer())


async def _request_rejoin(consumer: Any) -> None:
    consumer._coordinator.request_rejoin()


class WireBytes(faust.Schema[bytes | None, bytes]):
    """Keys and values as the bytes on the wire, for a topic whose records the agent
    decodes itself (faust's "raw" serializer goes through its codec registry)."""

    def loads_key(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.key

    def loads_value(
        self, app: Any, message: Any, *, loads: Any = None, serializer: Any = None
    ) -> Any:
        return message.value
