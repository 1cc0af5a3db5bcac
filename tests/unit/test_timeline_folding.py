"""Folding a consignment's events in batch by batch gives `build_timeline`'s timeline,
for any order, duplication, batching and cache eviction.

Generic over the rules: the expected timeline is always `build_timeline` over every
event seen so far, whatever rules it applies.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor import TransitEvent, build_timeline
from corridor.errors import InvalidEvent
from corridor.folding import FoldedEvents, fold_events
from tests.unit.factories import khorgos_to_aktau, reference
from tests.unit.test_timeline_properties import reordered_with_duplicates, transit_events


@st.composite
def deliveries(
    draw: st.DrawFn, events: list[TransitEvent]
) -> list[tuple[list[TransitEvent], bool]]:
    """`events` re-ordered and duplicated, cut into batches; each batch says whether the
    cache lost the consignment before it (then the store's copy is folded again)."""
    arrivals = draw(reordered_with_duplicates(events))
    cuts = sorted(draw(st.sets(st.integers(0, len(arrivals)), max_size=6)))
    bounds = [0, *cuts, len(arrivals)]
    batches = [arrivals[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    return [(batch, draw(st.booleans()) and draw(st.booleans())) for batch in batches]


def assert_fold_equals_rebuild(plan: list[tuple[list[TransitEvent], bool]]) -> None:
    folded: FoldedEvents | None = None
    stored: list[TransitEvent] = []  # what the database holds: every event written
    for batch, evicted in plan:
        if evicted and stored:
            folded = fold_events(None, stored)  # a cache miss: reload, fold from scratch
        folded = fold_events(folded, batch)
        stored += batch
        assert folded.timeline(reference()) == build_timeline(stored, reference())


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_random_events_folded_in_batches_give_the_rebuilt_timeline(data: st.DataObject) -> None:
    events = data.draw(st.lists(transit_events(), min_size=1, max_size=25))
    assert_fold_equals_rebuild(data.draw(deliveries(events)))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_real_journey_folded_in_batches_gives_the_rebuilt_timeline(
    data: st.DataObject,
) -> None:
    journey = khorgos_to_aktau()
    conflicting = journey[4].model_copy(update={"location": "KZ-AKTAU"})  # same id, new content
    pool = [*journey, *data.draw(st.lists(st.just(conflicting), max_size=1))]
    assert_fold_equals_rebuild(data.draw(deliveries(pool)))


def test_events_in_order_are_appended_and_re_sends_change_nothing() -> None:
    journey = khorgos_to_aktau()
    first = fold_events(None, journey[:5])
    grown = fold_events(first, journey[5:])
    assert grown.ordered[:5] == first.ordered
    assert fold_events(grown, journey[2:7]) is grown
    assert grown.timeline(reference()) == build_timeline(journey, reference())


def test_a_late_event_takes_its_place_in_timeline_order() -> None:
    journey = khorgos_to_aktau()
    folded = fold_events(fold_events(None, journey[3:]), journey[:3])
    assert folded.ordered == tuple(sorted(journey, key=lambda e: e.sort_key))


def test_events_of_another_consignment_are_refused() -> None:
    journey = khorgos_to_aktau()
    other = journey[-1].model_copy(update={"consignment_id": "CONS-0002"})
    with pytest.raises(InvalidEvent):
        fold_events(fold_events(None, journey[:-1]), [other])
    with pytest.raises(InvalidEvent):
        fold_events(None, [])
