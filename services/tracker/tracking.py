"""The tracker's use case: fold a batch of events into timelines, store, announce.

For every consignment a batch touches, the full set of its events (kept in a
bounded in-memory cache, or re-read from the database, which stores every raw
event in the same transaction as the timelines) is merged with the new ones and
handed to the domain core. The resulting timelines, the raw events and the alerts
are written in one transaction; only then may the batch be acked. Because every
write is idempotent and every timeline is rebuilt from the whole set, a replay, a
restart or a late event converges to the same rows.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from corridor.alerts import Alert, alerts_for_timeline
from corridor.events import TransitEvent
from corridor.journey import ConsignmentState, Timeline
from corridor.reference import CorridorReference
from corridor.timeline import build_timeline

FINAL_STATES = frozenset({ConsignmentState.COMPLETED, ConsignmentState.CANCELLED})


class EventHistory(Protocol):
    """Per-consignment events seen so far and the timeline last stored for them, as far as
    memory allows; None: ask the store."""

    def get(self, consignment_id: str) -> list[TransitEvent] | None: ...

    def stored_timeline(self, consignment_id: str) -> Timeline | None: ...

    def put(
        self, consignment_id: str, events: Sequence[TransitEvent], stored: Timeline
    ) -> None: ...

    def forget(self, consignment_id: str) -> None: ...


class ConsignmentStates(Protocol):
    """The current state of each consignment in flight (a changelogged Faust table)."""

    def record(self, timeline: Timeline) -> None: ...

    def remove(self, consignment_id: str) -> None: ...


class RecentHistories:
    """`EventHistory` as a bounded LRU of decoded histories, for one worker's partitions."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._histories: OrderedDict[str, tuple[list[TransitEvent], Timeline]] = OrderedDict()

    def get(self, consignment_id: str) -> list[TransitEvent] | None:
        known = self._histories.get(consignment_id)
        if known is None:
            return None
        self._histories.move_to_end(consignment_id)
        return known[0]

    def stored_timeline(self, consignment_id: str) -> Timeline | None:
        known = self._histories.get(consignment_id)
        return known[1] if known is not None else None

    def put(self, consignment_id: str, events: Sequence[TransitEvent], stored: Timeline) -> None:
        self._histories[consignment_id] = (list(events), stored)
        self._histories.move_to_end(consignment_id)
        while len(self._histories) > self._capacity:
            self._histories.popitem(last=False)

    def forget(self, consignment_id: str) -> None:
        self._histories.pop(consignment_id, None)

    def clear(self) -> None:
        self._histories.clear()


class TrackingStore(Protocol):
    async def load_events(
        self, consignment_ids: Sequence[str]
    ) -> dict[str, list[TransitEvent]]: ...

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, Timeline],
    ) -> frozenset[str]:
        """One transaction; returns the consignments whose rows now hold these timelines.
        `stored` (what the rows held before, where known) lets it write only changes."""
        ...


class DerivedTopics(Protocol):
    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None: ...


def merge_events(known: Iterable[TransitEvent], new: Iterable[TransitEvent]) -> list[TransitEvent]:
    """Union by content: a faithful re-send adds nothing, a conflicting one is kept for
    the domain core to flag."""
    merged: dict[tuple[str, str], TransitEvent] = {}
    for event in (*known, *new):
        merged.setdefault((str(event.event_id), event.fingerprint()), event)
    return sorted(merged.values(), key=lambda e: e.sort_key)


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

    async def track(self, events: Sequence[TransitEvent]) -> list[Timeline]:
        groups = group_by_consignment(events)
        unknown = [cid for cid in groups if self._history.get(cid) is None]
        # Evicted, restarted or never-seen consignments: the database has what we had.
        reloaded = await self._store.load_events(unknown) if unknown else {}
        histories: dict[str, list[TransitEvent]] = {}
        timelines: list[Timeline] = []
        for consignment_id, new_events in groups.items():
            known = self._history.get(consignment_id) or reloaded.get(consignment_id, [])
            histories[consignment_id] = merge_events(known, new_events)
            timelines.append(build_timeline(histories[consignment_id], self._reference))
        alerts = [alert for timeline in timelines for alert in alerts_for_timeline(timeline)]
        stored = {
            cid: timeline
            for cid in groups
            if (timeline := self._history.stored_timeline(cid)) is not None
        }
        applied = await self._store.write_batch(events, timelines, alerts, stored)
        for timeline in timelines:
            consignment_id = timeline.consignment_id
            if timeline.state in FINAL_STATES:
                # Finished journeys leave memory; a late event reloads them from the database.
                self._history.forget(consignment_id)
                self._states.remove(consignment_id)
                continue
            if consignment_id in applied:
                self._history.put(consignment_id, histories[consignment_id], timeline)
            else:
                # The rows hold something else (a replay, or another worker's newer write):
                # next time, rebuild from the database and rewrite whole.
                self._history.forget(consignment_id)
            self._states.record(timeline)
        await self._derived.publish(timelines, alerts)
        return timelines
