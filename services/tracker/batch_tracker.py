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

Before folding, events filed under an alias are re-filed under the consignment it names,
and a placeholder consignment the batch links to another one (`corridor.aliases`) is
merged into it: its events join the other's, its rows go.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from corridor.alerts import Alert, alerts_for_timeline
from corridor.aliases import placeholder_links, refiled
from corridor.events import TransitEvent
from corridor.folding import FoldedEvents, fold_events
from corridor.model import ConsignmentState, Timeline
from corridor.reference import CorridorReference
from storage.progress import Partition, PartitionProgress

# Placeholder links this process recorded, oldest forgotten first (~200 bytes each).
RECORDED_LINKS_HELD = 100_000
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


class ConsignmentAliases(Protocol):
    """Which consignment ids are aliases of another (placeholders merged into it)."""

    async def aliases_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        """The consignment each of these ids is an alias of; the others are absent."""
        ...

    async def merge(self, links: Mapping[str, str]) -> dict[str, str]:
        """Make each placeholder of `links` an alias of its target, in one transaction:
        its stored events move to the target, its rows go. Idempotent: an alias once
        recorded stays. Returns the target recorded for each placeholder."""
        ...


class NoAliases:
    """For a tracker that never merges: nothing is an alias."""

    async def aliases_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        return {}

    async def merge(self, links: Mapping[str, str]) -> dict[str, str]:
        return dict(links)


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
        aliases: ConsignmentAliases | None = None,
    ) -> None:
        self._reference = reference
        self._history = history
        self._states = states
        self._store = store
        self._derived = derived
        self._aliases = aliases or NoAliases()
        self._recorded_links: dict[str, str] = {}

    async def track(
        self,
        events: Sequence[TransitEvent],
        progress: Mapping[Partition, PartitionProgress] | None = None,
    ) -> list[Timeline]:
        """Returns the timelines the batch changed. `progress`: how far the batch read
        each (topic, partition), stored with it."""
        events = await self._merged(events)
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

    async def _merged(self, events: Sequence[TransitEvent]) -> list[TransitEvent]:
        """`events` re-filed under the consignments their ids are aliases of, plus the
        events of each placeholder the batch links to another consignment, re-filed there
        (the store has moved them by then; inserting them again is a no-op)."""
        ids = sorted({event.consignment_id for event in events})
        refiled_events = refiled(events, await self._aliases.aliases_of(ids))
        links = {
            mrn: target
            for mrn, target in placeholder_links(refiled_events).items()
            if self._recorded_links.get(mrn) != target
        }
        if not links:
            return refiled_events
        placeholders = sorted(links)
        uncached = [mrn for mrn in placeholders if self._history.get(mrn) is None]
        stored = await self._store.load_events(uncached) if uncached else {}
        moved: list[TransitEvent] = []
        for mrn in placeholders:
            cached = self._history.get(mrn)
            moved.extend(cached.every_version() if cached else stored.get(mrn, ()))
        links = await self._aliases.merge(links)
        for mrn in {event.consignment_id for event in moved}:
            self._history.forget(mrn)
            self._states.remove(mrn)
        self._remember(links)
        return refiled([*refiled_events, *moved], links)

    def _remember(self, links: Mapping[str, str]) -> None:
        """Links recorded need no second look: a placeholder filed later under one of them
        is found by `aliases_of`."""
        self._recorded_links.update(links)
        while len(self._recorded_links) > RECORDED_LINKS_HELD:
            del self._recorded_links[next(iter(self._recorded_links))]
