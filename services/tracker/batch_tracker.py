"""The tracker's use case: fold a batch of events into timelines, store, announce.

For every consignment a batch touches, the full set of its events (kept in a
bounded in-memory cache, or re-read from the database, which stores every raw
event in the same transaction as the timelines) is merged with the new ones and
handed to the domain core. The resulting timelines, the raw events and the alerts
are written in one transaction; only then may the batch be acked. Because every
write is idempotent and every timeline is rebuilt from the whole set, a replay, a
restart or a late event converges to the same rows.

A cached consignment whose event set the batch did not change (only faithful
re-sends, such as a publisher's retry) keeps the timeline its rows already hold:
nothing is rebuilt, written or announced for it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol
from uuid import UUID

from corridor.alerts import Alert, alerts_for_timeline
from corridor.events import TransitEvent
from corridor.journey import ConsignmentState, Timeline
from corridor.reference import CorridorReference
from corridor.timeline import build_timeline
from storage.records import Partition, PartitionProgress
from storage.rows import TimelineRows

FINAL_STATES = frozenset({ConsignmentState.COMPLETED, ConsignmentState.CANCELLED})


class EventHistory(Protocol):
    """Per-consignment events seen so far (distinct, in timeline order) and the rows last
    stored for them, as far as memory allows; None: ask the store."""

    def get(self, consignment_id: str) -> list[TransitEvent] | None: ...

    def stored_rows(self, consignment_id: str) -> TimelineRows | None: ...

    def put(
        self, consignment_id: str, events: Sequence[TransitEvent], stored: TimelineRows
    ) -> None: ...

    def forget(self, consignment_id: str) -> None: ...


class ConsignmentStates(Protocol):
    """The current state of each consignment in flight (a changelogged Faust table)."""

    def record(self, timeline: Timeline) -> None: ...

    def remove(self, consignment_id: str) -> None: ...


class RecentHistories:
    """`EventHistory` as an LRU of decoded histories, for one worker's partitions, holding
    at most `max_events` events in all (memory goes with events, not consignments)."""

    def __init__(self, max_events: int) -> None:
        self._max_events = max_events
        self._events_held = 0
        self._histories: OrderedDict[str, tuple[list[TransitEvent], TimelineRows]] = OrderedDict()

    @property
    def events_held(self) -> int:
        return self._events_held

    @property
    def max_events(self) -> int:
        return self._max_events

    def get(self, consignment_id: str) -> list[TransitEvent] | None:
        known = self._histories.get(consignment_id)
        if known is None:
            return None
        self._histories.move_to_end(consignment_id)
        return known[0]

    def stored_rows(self, consignment_id: str) -> TimelineRows | None:
        known = self._histories.get(consignment_id)
        return known[1] if known is not None else None

    def put(
        self, consignment_id: str, events: Sequence[TransitEvent], stored: TimelineRows
    ) -> None:
        self.forget(consignment_id)
        self._histories[consignment_id] = (list(events), stored)
        self._events_held += len(events)
        while self._events_held > self._max_events:
            _, (evicted, _) = self._histories.popitem(last=False)
            self._events_held -= len(evicted)

    def forget(self, consignment_id: str) -> None:
        known = self._histories.pop(consignment_id, None)
        if known is not None:
            self._events_held -= len(known[0])

    def clear(self) -> None:
        self._histories.clear()
        self._events_held = 0


class TrackingStore(Protocol):
    async def load_events(
        self, consignment_ids: Sequence[str]
    ) -> dict[str, list[TransitEvent]]: ...

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, TimelineRows],
        progress: Mapping[Partition, PartitionProgress],
    ) -> Mapping[str, TimelineRows]:
        """One transaction. Returns the rows now held by each consignment whose rows took
        its timeline (the others held something newer). `stored` (what the rows held
        before, where known) lets it write only the changes; `progress` is, per (topic,
        partition), the newest event time read (the tracker's clock) and the next offset."""
        ...


class DerivedTopics(Protocol):
    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None: ...


def merge_events(known: Sequence[TransitEvent], new: Iterable[TransitEvent]) -> list[TransitEvent]:
    """Union by content: a faithful re-send adds nothing, a conflicting one is kept for
    the domain core to flag.

    `known` must be distinct and in timeline order (a previous merge's result); the
    result is too. When nothing is new, `known` itself comes back (callers test `is`).
    """
    seen: set[tuple[UUID, str]] = {(e.event_id, e.fingerprint()) for e in known}
    fresh: list[TransitEvent] = []
    for event in new:
        key = (event.event_id, event.fingerprint())
        if key not in seen:
            seen.add(key)
            fresh.append(event)
    if not fresh:
        return known if isinstance(known, list) else list(known)
    fresh.sort(key=_merge_order)
    if not known or _merge_order(known[-1]) <= _merge_order(fresh[0]):
        return [*known, *fresh]  # the usual case: events arrive roughly in order
    return sorted((*known, *fresh), key=_merge_order)


def _merge_order(event: TransitEvent) -> tuple[tuple[object, ...], str]:
    # Timeline order; conflicting versions of one event (same key) by content digest.
    return (event.sort_key, event.fingerprint())


def group_by_consignment(events: Iterable[TransitEvent]) -> dict[str, list[TransitEvent]]:
    groups: dict[str, list[TransitEvent]] = {}
    for event in events:
        groups.setdefault(event.consignment_id, []).append(event)
    return groups


class BatchTracker:
    def __init__(
        self,
        reference: CorridorReference,
        history: EventHistory,
        states: ConsignmentStates,
        store: TrackingStore,
        derived: DerivedTopics,
    ) -> None:
        self._reference = reference
        self._history = history
        self._states = states
        self._store = store
        self._derived = derived

    async def track(
        self,
        events: Sequence[TransitEvent],
        progress: Mapping[Partition, PartitionProgress] | None = None,
    ) -> list[Timeline]:
        """Returns the timelines the batch changed. `progress`: how far the batch read
        each (topic, partition), stored with it."""
        groups = group_by_consignment(events)
        unknown = [cid for cid in groups if self._history.get(cid) is None]
        # Evicted, restarted or never-seen consignments: the database has what we had.
        reloaded = await self._store.load_events(unknown) if unknown else {}
        histories: dict[str, list[TransitEvent]] = {}
        timelines: list[Timeline] = []
        stored: dict[str, TimelineRows] = {}
        for consignment_id, new_events in groups.items():
            cached = self._history.get(consignment_id)
            known = (
                cached if cached is not None else merge_events([], reloaded.get(consignment_id, []))
            )
            merged = merge_events(known, new_events)
            rows = self._history.stored_rows(consignment_id) if cached is not None else None
            if merged is cached and rows is not None:
                continue  # only re-sends: its rows already hold this timeline
            histories[consignment_id] = merged
            timelines.append(build_timeline(merged, self._reference))
            if rows is not None:
                stored[consignment_id] = rows
        alerts = [alert for timeline in timelines for alert in alerts_for_timeline(timeline)]
        written = await self._store.write_batch(events, timelines, alerts, stored, progress or {})
        for timeline in timelines:
            consignment_id = timeline.consignment_id
            if consignment_id in written:
                self._history.put(
                    consignment_id, histories[consignment_id], written[consignment_id]
                )
            else:
                # The rows hold something else (a replay, or another worker's newer write):
                # next time, rebuild from the database and rewrite whole.
                self._history.forget(consignment_id)
            if timeline.state in FINAL_STATES:
                # Finished journeys leave the table. Their history stays in the bounded
                # cache, as a destination's last events (departure, discharge) still
                # follow, and ages out of it once they stop.
                self._states.remove(consignment_id)
            else:
                self._states.record(timeline)
        await self._derived.publish(timelines, alerts)
        return timelines
