"""The tracker's use case: fold a batch of events into timelines, store, announce.

For every consignment a batch touches, its new events are folded into the events
seen so far (kept in a bounded in-memory cache, or re-read from the database, which
stores every raw event in the same transaction as the timelines; `corridor.folding`
gives the same timeline as a rebuild from the whole set). The resulting timelines,
the raw events and the alerts are written in one transaction; only then may the batch
be acked. Because every write is idempotent and every timeline equals the one rebuilt
from the whole set, a replay, a restart or a late event converges to the same rows.

A cached consignment whose event set the batch did not change (only faithful
re-sends, such as a publisher's retry) keeps the timeline its rows already hold:
nothing is rebuilt, written or announced for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from corridor.alerts import Alert, alerts_for_timeline
from corridor.events import TransitEvent
from corridor.folding import FoldedEvents, fold_events
from corridor.model import ConsignmentState, Timeline
from corridor.reference import CorridorReference
from storage.progress import Partition, PartitionProgress

FINAL_STATES = frozenset({ConsignmentState.COMPLETED, ConsignmentState.CANCELLED})

# What the store wrote for one consignment (its rows), opaque here: the history keeps it
# and hands it back, so the store writes only what changed.
Stored = TypeVar("Stored")


class EventHistory(Protocol[Stored]):
    """Per-consignment events folded so far and the rows last stored for them, as far as
    memory allows; None: ask the store."""

    def get(self, consignment_id: str) -> FoldedEvents | None: ...

    def stored_rows(self, consignment_id: str) -> Stored | None: ...

    def put(self, consignment_id: str, folded: FoldedEvents, stored: Stored) -> None: ...

    def forget(self, consignment_id: str) -> None: ...


class ConsignmentStates(Protocol):
    """The current state of each consignment in flight (a changelogged Faust table)."""

    def record(self, timeline: Timeline) -> None: ...

    def remove(self, consignment_id: str) -> None: ...


class TrackingStore(Protocol[Stored]):
    async def load_events(
        self, consignment_ids: Sequence[str]
    ) -> dict[str, list[TransitEvent]]: ...

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, Stored],
        progress: Mapping[Partition, PartitionProgress],
    ) -> Mapping[str, Stored]:
        """One transaction. Returns the rows now held by each consignment whose rows took
        its timeline (the others held something newer). `stored` (what the rows held
        before, where known) lets it write only the changes; `progress` is, per (topic,
        partition), the newest event time read (the tracker's clock) and the next offset."""
        ...


class DerivedTopics(Protocol):
    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None: ...


def group_by_consignment(events: Iterable[TransitEvent]) -> dict[str, list[TransitEvent]]:
    groups: dict[str, list[TransitEvent]] = {}
    for event in events:
        groups.setdefault(event.consignment_id, []).append(event)
    return groups


class BatchTracker(Generic[Stored]):
    def __init__(
        self,
        reference: CorridorReference,
        history: EventHistory[Stored],
        states: ConsignmentStates,
        store: TrackingStore[Stored],
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
        folds: dict[str, FoldedEvents] = {}
        timelines: list[Timeline] = []
        stored: dict[str, Stored] = {}
        for consignment_id, new_events in groups.items():
            cached = self._history.get(consignment_id)
            if cached is None:
                folded = fold_events(None, [*reloaded.get(consignment_id, ()), *new_events])
            else:
                folded = fold_events(cached, new_events)
                if folded is cached:
                    continue  # only re-sends: its rows already hold this timeline
                rows = self._history.stored_rows(consignment_id)
                if rows is not None:
                    stored[consignment_id] = rows
            folds[consignment_id] = folded
            timelines.append(folded.timeline(self._reference))
        alerts = [alert for timeline in timelines for alert in alerts_for_timeline(timeline)]
        written = await self._store.write_batch(events, timelines, alerts, stored, progress or {})
        for timeline in timelines:
            consignment_id = timeline.consignment_id
            if consignment_id in written:
                self._history.put(consignment_id, folds[consignment_id], written[consignment_id])
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
