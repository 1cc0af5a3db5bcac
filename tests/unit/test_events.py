"""The canonical event contract: validation, ordering and fingerprints."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from corridor import ARRIVAL_TYPES, DEPARTURE_TYPES, LIFECYCLE_RANK, EventType, TransitEvent
from tests.unit.factories import event


def test_every_event_type_has_a_rank() -> None:
    assert set(LIFECYCLE_RANK) == set(EventType)
    assert not ARRIVAL_TYPES & DEPARTURE_TYPES


def test_arrival_sorts_before_departure_at_the_same_instant() -> None:
    arrived = event(EventType.GATE_ARRIVED, "GE-SARPI", 1)
    departed = event(EventType.GATE_DEPARTED, "GE-SARPI", 1)
    assert sorted([departed, arrived], key=lambda e: e.sort_key) == [arrived, departed]


def test_times_are_held_in_utc_so_equal_instants_are_equal_events() -> None:
    original = event(EventType.GATE_ARRIVED, "GE-SARPI", 1)
    plus_four = timezone(timedelta(hours=4))
    shifted = original.model_copy(update={}).model_dump()
    shifted["occurred_at"] = original.occurred_at.astimezone(plus_four)
    again = TransitEvent.model_validate(shifted)
    assert again == original
    assert again.fingerprint() == original.fingerprint()


def test_fingerprint_tells_content_apart() -> None:
    one = event(EventType.GATE_ARRIVED, "GE-SARPI", 1, event_id=uuid.UUID(int=1))
    other = event(EventType.GATE_ARRIVED, "GE-SARPI", 2, event_id=uuid.UUID(int=1))
    assert one.fingerprint() != other.fingerprint()


# An event without warnings, as main serialised and digested it at commit 6f0310c, before
# `attributes.warnings` existed (`git show 6f0310c:corridor/events.py`): events already
# stored or in Kafka must keep their fingerprint when re-sent.
FIXED_EVENT: dict[str, Any] = {
    "event_id": "0b0c7d2e-5f0a-4f3e-9a53-2d6f4a1c9e01",
    "event_type": "gate.arrived",
    "occurred_at": "2026-03-01T06:00:00+05:00",
    "location": "KZ-NUR-ZHOLY",
    "consignment_id": "MC-2026-000417",
    "carrier_id": "KZ-TC-01",
    "references": {"mrn": None, "container_numbers": ["CSQU3054383"]},
    "source": {"system": "gate", "message_type": "GATE_IN", "message_id": "g-1"},
    "attributes": {"direction": "inbound", "mode": "road", "seals": ["KZ-SEAL-0042"]},
}
FIXED_EVENT_DIGEST_AT_6F0310C = "d6df77df1846095bcf8968e28e952826da105a184a1c89966ece02c445c37bf2"


def test_an_event_without_warnings_keeps_the_fingerprint_it_had_before_warnings() -> None:
    fixed = TransitEvent.model_validate(FIXED_EVENT)

    assert fixed.fingerprint() == FIXED_EVENT_DIGEST_AT_6F0310C
    assert "warnings" not in fixed.canonical_json()


def test_warnings_are_part_of_the_content_when_present() -> None:
    warned = dict(FIXED_EVENT, attributes={**FIXED_EVENT["attributes"], "warnings": ["w"]})
    event_with_warning = TransitEvent.model_validate(warned)

    assert event_with_warning.fingerprint() != FIXED_EVENT_DIGEST_AT_6F0310C
    assert TransitEvent.model_validate_json(event_with_warning.canonical_json()) == (
        event_with_warning
    )


def test_json_round_trip() -> None:
    original = event(EventType.SEALS_CHECKED, "AZ-ALAT", 3, seals=("A1", "B2"))
    assert TransitEvent.model_validate_json(original.model_dump_json()) == original


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("location", "aktau"),
        ("occurred_at", datetime(2026, 3, 1, 8, 0)),  # naive: no UTC offset
        ("event_type", "truck.teleported"),
        ("unexpected", 1),
    ],
)
def test_contract_violations_are_refused(field: str, value: object) -> None:
    data = event(EventType.GATE_ARRIVED, "GE-SARPI").model_dump()
    data[field] = value
    with pytest.raises(ValidationError):
        TransitEvent.model_validate(data)


def test_decoded_events_share_what_pydantic_tracks_per_instance_without_mixing_it() -> None:
    # Each decoded event is cached by the tracker; the names of the fields its input set
    # are shared between events that set the same ones, yet stay right for each.
    arrived = event(EventType.GATE_ARRIVED, "GE-SARPI", 1, direction="inbound")
    left = event(EventType.GATE_DEPARTED, "TR-SARP", 2, direction="outbound")
    sealed = event(EventType.SEALS_CHECKED, "AZ-ALAT", 3, seals=("A1",))
    first, second, third = (
        TransitEvent.model_validate_json(e.model_dump_json(exclude_none=True))
        for e in (arrived, left, sealed)
    )
    assert first.model_fields_set is second.model_fields_set
    assert first.attributes.model_fields_set is second.attributes.model_fields_set
    assert first.attributes.model_fields_set == {"direction"}
    assert third.attributes.model_fields_set == {"seals"}

    moved = first.model_copy(update={"location": "GE-RED"})
    renamed = first.references.model_copy(update={"mrn": "24KZ0001000012345X"})

    assert "mrn" in renamed.model_fields_set
    assert "mrn" not in second.references.model_fields_set
    assert moved.model_fields_set == second.model_fields_set  # location was set anyway
    assert (first, second, third) == (arrived, left, sealed)


def test_events_are_immutable() -> None:
    arrived = event(EventType.GATE_ARRIVED, "GE-SARPI")
    with pytest.raises(ValidationError):
        arrived.location = "TR-SARP"  # type: ignore[misc]


@pytest.mark.parametrize(
    "change",
    [
        {"references": {"vehicle_plates": ["01 ABC\u0000"]}},
        {"source": {"system": "gate", "message_id": "a\u0000b"}},
        {"attributes": {"reason": "\u0000"}},
    ],
)
def test_text_with_nul_is_refused_before_it_can_reach_the_database(change: dict[str, Any]) -> None:
    document = {
        **json.loads(event(EventType.GATE_ARRIVED, "KZ-AKTAU", 1).model_dump_json()),
        **change,
    }
    with pytest.raises(ValidationError, match="pattern"):
        TransitEvent.model_validate(document)
