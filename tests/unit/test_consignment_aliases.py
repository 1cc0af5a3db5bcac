"""Order independence of consignment identity: one consignment's NCTS messages, filed by
ingest's directory rule and folded by the tracker (in-memory store, aliases and merges
as the database keeps them), give the same single timeline in every arrival order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import permutations
from pathlib import Path

import pytest

from corridor.aliases import placeholder_links, refiled
from corridor.events import TransitEvent
from corridor.model import Timeline
from corridor.timeline import build_timeline
from services.common.reference_data import load_corridor_reference
from services.ingest.adapters import ncts
from services.ingest.adapters.base import ReferenceKind
from services.ingest.directory import KnownConsignment, resolve
from services.tracker.batch_tracker import BatchTracker
from storage.rows import TimelineRows
from tests.unit.test_tracker_batches import FakeHistory, FakeStates, FakeStore, FakeTopics

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
LRN, MRN, CARRIER = "GETRD-2026-000042", "24GE000201T0000420", "GE0123456789"
# The declaration and its acceptance name the carrier; the others name only the MRN.
MESSAGES = (
    "cc015c_declaration",
    "cc028c_mrn_allocated",
    "cc029c_release_for_transit",
    "cd118c_crossing_frontier",
    "cc007c_arrival_notification",
)
REFERENCE = load_corridor_reference()


class AliasingStore(FakeStore):
    """The fake database, with the alias table and the merge the PostgreSQL store does."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases: dict[str, str] = {}

    async def aliases_of(self, consignment_ids: Sequence[str]) -> dict[str, str]:
        return {cid: self.aliases[cid] for cid in consignment_ids if cid in self.aliases}

    async def merge(self, links: Mapping[str, str]) -> dict[str, str]:
        for placeholder, target in links.items():
            target = self.aliases.setdefault(placeholder, target)
            moved = self.raw.pop(placeholder, [])
            self.raw.setdefault(target, []).extend(refiled(moved, {placeholder: target}))
            self.timelines.pop(placeholder, None)
        return {placeholder: self.aliases[placeholder] for placeholder in links}


class StoredDirectory:
    """Ingest's directory over the fake database, as `PostgresConsignmentDirectory`
    answers over the `consignments` table: by id (an LRN) or by the stored MRN."""

    def __init__(self, store: AliasingStore) -> None:
        self._store = store

    async def find(self, reference_kind: ReferenceKind, value: str) -> KnownConsignment | None:
        for timeline in self._store.timelines.values():
            mrns = {event.references.mrn for event in timeline.events}
            if timeline.consignment_id == value or (
                reference_kind is ReferenceKind.MRN and value in mrns
            ):
                return timeline.consignment_id, timeline.carrier_id
        return None

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        timelines = self._store.timelines
        return {cid: timelines[cid].carrier_id for cid in consignment_ids if cid in timelines}


async def _events(name: str, directory: StoredDirectory) -> list[TransitEvent]:
    body = (SAMPLES / f"ncts_{name}.xml").read_bytes()
    return await resolve(ncts.to_message(body, REFERENCE), directory)


def _tracker() -> tuple[BatchTracker[TimelineRows], AliasingStore]:
    store = AliasingStore()
    tracker = BatchTracker(REFERENCE, FakeHistory(), FakeStates(), store, FakeTopics(), store)
    return tracker, store


def _summary(timeline: Timeline) -> tuple[object, ...]:
    return (
        timeline.consignment_id,
        timeline.carrier_id,
        timeline.state,
        timeline.current_location,
        tuple(event.event_id for event in timeline.events),
        timeline.anomalies,
    )


async def _posted_one_by_one(order: Sequence[str]) -> AliasingStore:
    """Each message stored before the next is posted, as a customs system sends them."""
    tracker, store = _tracker()
    directory = StoredDirectory(store)
    for name in order:
        await tracker.track(await _events(name, directory))
    return store


async def _expected() -> Timeline:
    empty = StoredDirectory(AliasingStore())
    events = [event for name in MESSAGES for event in await _events(name, empty)]
    return build_timeline(refiled(events, {MRN: LRN}), REFERENCE)


async def test_every_arrival_order_gives_the_same_single_timeline() -> None:
    expected = _summary(await _expected())
    assert expected[:2] == (LRN, CARRIER)
    for order in permutations(MESSAGES):
        store = await _posted_one_by_one(order)
        assert list(store.timelines) == [LRN], order
        assert _summary(store.timelines[LRN]) == expected, order
        assert set(store.raw) == {LRN}, order


async def test_an_arrival_before_anything_else_opens_a_placeholder_merged_by_the_link() -> None:
    tracker, store = _tracker()
    directory = StoredDirectory(store)
    await tracker.track(await _events("cc007c_arrival_notification", directory))
    assert store.timelines[MRN].carrier_id is None, "no message named a carrier yet"

    await tracker.track(await _events("cc015c_declaration", directory))
    assert set(store.timelines) == {MRN, LRN}
    await tracker.track(await _events("cc028c_mrn_allocated", directory))

    assert set(store.timelines) == {LRN}
    assert store.timelines[LRN].carrier_id == CARRIER, "the carrier attached once named"
    assert store.aliases == {MRN: LRN}
    # Filed under the placeholder after it merged (posted before the link was stored):
    # re-filed under the consignment it is an alias of.
    late = await _events("cd118c_crossing_frontier", StoredDirectory(AliasingStore()))
    assert late[0].consignment_id == MRN
    await tracker.track(late)
    assert set(store.timelines) == {LRN}
    assert len(store.timelines[LRN].events) == 4


@pytest.mark.parametrize("batch_order", [MESSAGES, MESSAGES[::-1]])
async def test_a_placeholder_and_its_link_in_one_batch_are_one_consignment(
    batch_order: Sequence[str],
) -> None:
    tracker, store = _tracker()
    empty = StoredDirectory(AliasingStore())  # nothing stored yet when they were posted
    events = [event for name in batch_order for event in await _events(name, empty)]
    await tracker.track(events)
    assert list(store.timelines) == [LRN]
    assert _summary(store.timelines[LRN]) == _summary(await _expected())


def test_an_event_filed_elsewhere_carrying_an_mrn_links_that_mrn() -> None:
    [declared] = refiled_sample("cc028c_mrn_allocated")
    arrival = declared.model_copy(update={"consignment_id": MRN})
    assert placeholder_links([declared, arrival]) == {MRN: LRN}
    assert placeholder_links([arrival]) == {}, "a placeholder's own events link nothing"


def test_a_target_that_is_itself_linked_elsewhere_is_no_target() -> None:
    [declared] = refiled_sample("cc028c_mrn_allocated")
    chained = declared.model_copy(
        update={
            "consignment_id": MRN,
            "references": declared.references.model_copy(update={"mrn": "OTHER"}),
        }
    )
    # MRN moves into the LRN's consignment, so it cannot take OTHER in this batch.
    assert placeholder_links([declared, chained]) == {MRN: LRN}


def refiled_sample(name: str) -> list[TransitEvent]:
    body = (SAMPLES / f"ncts_{name}.xml").read_bytes()
    message = ncts.to_message(body, REFERENCE)
    return [draft.complete(LRN, CARRIER) for draft in message.drafts]
