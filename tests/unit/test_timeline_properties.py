"""Any order and any duplication of the same events gives the same timeline."""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corridor import EventType, TransitEvent, build_timeline
from tests.unit.factories import event, khorgos_to_aktau, reference

LOCATIONS = ("CN-KHORGOS", "KZ-NUR-ZHOLY", "KZ-AKTAU", "AZ-ALAT", "GE-BATUMI")
ROUTES = ("road-nur-zholy-aktau-kapikule", "road-nur-zholy-aktau-poti", "unknown-route")
# A small pool of ids, so that conflicting versions of one event come up often.
EVENT_IDS = tuple(uuid.UUID(int=n) for n in range(1, 13))


@st.composite
def transit_events(draw: st.DrawFn) -> TransitEvent:
    event_type = draw(st.sampled_from(EventType))
    attributes: dict[str, Any] = {}
    if draw(st.booleans()):
        attributes["seals"] = tuple(draw(st.sets(st.sampled_from(("S1", "S2", "S3")), max_size=2)))
    if event_type in {EventType.DECLARATION_SUBMITTED, EventType.DECLARATION_ACCEPTED}:
        attributes["route_id"] = draw(st.sampled_from(ROUTES))
    return event(
        event_type,
        draw(st.sampled_from(LOCATIONS)),
        draw(st.integers(min_value=0, max_value=12)),  # few distinct times: many ties
        event_id=draw(st.sampled_from(EVENT_IDS)),
        carrier_id=draw(st.sampled_from(("CARRIER-A", "CARRIER-B"))),
        **attributes,
    )


@st.composite
def reordered_with_duplicates(draw: st.DrawFn, events: list[TransitEvent]) -> list[TransitEvent]:
    extra = draw(st.lists(st.sampled_from(events), max_size=len(events))) if events else []
    return draw(st.permutations(events + extra))


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[TransitEvent], list[TransitEvent]]:
    events = draw(st.lists(transit_events(), min_size=1, max_size=25))
    return events, draw(reordered_with_duplicates(events))


@settings(max_examples=150, deadline=None)
@given(scenario())
def test_any_order_and_duplication_of_random_events_gives_one_timeline(
    case: tuple[list[TransitEvent], list[TransitEvent]],
) -> None:
    original, shuffled = case
    assert build_timeline(shuffled, reference()) == build_timeline(original, reference())


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_any_order_and_duplication_of_a_real_journey_gives_one_timeline(
    data: st.DataObject,
) -> None:
    journey = khorgos_to_aktau()
    shuffled = data.draw(reordered_with_duplicates(journey))
    expected = build_timeline(journey, reference())
    actual = build_timeline(shuffled, reference())
    assert actual == expected
    assert (actual.state, actual.stays, actual.crossings, actual.legs, actual.anomalies) == (
        expected.state,
        expected.stays,
        expected.crossings,
        expected.legs,
        expected.anomalies,
    )
