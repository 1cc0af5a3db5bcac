"""One consignment's events folded in batch by batch: the same timeline as
`build_timeline` over all of them, without sorting and deduplicating the whole set again.

A batch whose new events all come after the last event folded (the usual case: a
journey is reported as it happens) is appended. A batch holding an event that sorts
before it (late, or out of order) or a new version of a known event starts over from
every version seen, as `build_timeline` would. Either way the timeline comes from
`derive_timeline`, so every rule added there holds for both paths.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from uuid import UUID

from corridor.events import TransitEvent
from corridor.journey import Anomaly, Timeline
from corridor.reference import CorridorReference
from corridor.timeline import conflicting_versions, deduplicate, derive_timeline, single_consignment


@dataclass(frozen=True, slots=True, eq=False)
class FoldedEvents:
    """Every distinct event of one consignment seen so far."""

    consignment_id: str
    ordered: tuple[TransitEvent, ...]  # one version per event_id (as kept), timeline order
    kept: Mapping[UUID, str]  # the fingerprint of the version kept, per event_id
    others: tuple[TransitEvent, ...] = ()  # conflicting versions not kept (rare)

    @property
    def event_count(self) -> int:
        return len(self.ordered) + len(self.others)

    def every_version(self) -> list[TransitEvent]:
        return [*self.ordered, *self.others]

    def conflicts(self) -> list[Anomaly]:
        if not self.others:
            return []
        dropped = Counter(event.event_id for event in self.others)
        return [
            conflicting_versions(event, dropped[event.event_id] + 1)
            for event in self.ordered
            if event.event_id in dropped
        ]

    def timeline(self, reference: CorridorReference) -> Timeline:
        return derive_timeline(self.consignment_id, self.ordered, self.conflicts(), reference)


def fold_events(folded: FoldedEvents | None, new: Iterable[TransitEvent]) -> FoldedEvents:
    """`folded` (None: nothing yet) with `new` added. `folded` itself comes back when
    `new` holds only faithful re-sends (callers test `is`)."""
    fresh = _unseen(folded, new)
    if folded is None or not fresh:
        return _rebuilt(fresh) if folded is None else folded
    fresh.sort(key=lambda event: event.sort_key)
    appendable = (
        fresh[0].sort_key > folded.ordered[-1].sort_key
        and len({event.event_id for event in fresh}) == len(fresh)
        and not any(event.event_id in folded.kept for event in fresh)
        and single_consignment([folded.ordered[-1], *fresh]) == folded.consignment_id
    )
    if not appendable:
        return _rebuilt([*folded.every_version(), *fresh])
    kept = dict(folded.kept)
    kept.update((event.event_id, event.fingerprint()) for event in fresh)
    return FoldedEvents(folded.consignment_id, (*folded.ordered, *fresh), kept, folded.others)


def _unseen(folded: FoldedEvents | None, new: Iterable[TransitEvent]) -> list[TransitEvent]:
    """The events of `new` that are no re-send of one folded or of one earlier in `new`."""
    seen: set[tuple[UUID, str]] = set()
    if folded is not None and folded.others:
        seen.update((event.event_id, event.fingerprint()) for event in folded.every_version())
    known = folded.kept if folded is not None else {}
    fresh: list[TransitEvent] = []
    for event in new:
        key = (event.event_id, event.fingerprint())
        if known.get(key[0]) != key[1] and key not in seen:
            seen.add(key)
            fresh.append(event)
    return fresh


def _rebuilt(events: list[TransitEvent]) -> FoldedEvents:
    """Folded from scratch: `events` are distinct (by event_id and fingerprint)."""
    consignment_id = single_consignment(events)
    kept, _ = deduplicate(events)
    kept_ids = {id(event) for event in kept}
    return FoldedEvents(
        consignment_id,
        tuple(sorted(kept, key=lambda event: event.sort_key)),
        {event.event_id: event.fingerprint() for event in kept},
        tuple(event for event in events if id(event) not in kept_ids),
    )
