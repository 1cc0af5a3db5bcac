"""Ownership is a rule of the domain: the first claim fixes a consignment's carrier,
references and route, whatever order the events arrive in; later contradictions are
anomalies and alerts, never a change of owner."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from corridor.alerts import AlertKind, alerts_for_timeline
from corridor.events import EventType as E
from corridor.events import References
from corridor.journey import AnomalyKind
from corridor.ownership import ConsignmentIdentity, claim_conflicts, consignment_identity
from corridor.timeline import build_timeline
from tests.unit.factories import ROAD_ROUTE, event, reference

OWNER, INTRUDER = "CARRIER-A", "CARRIER-B"


def journey_with_a_hijack() -> list:  # type: ignore[type-arg]
    return [
        event(E.DECLARATION_ACCEPTED, "KZ-NUR-ZHOLY", 0, carrier_id=OWNER, route_id=ROAD_ROUTE),
        event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 1, carrier_id=OWNER),
        # A publisher at one location names another carrier, later in time.
        event(E.SEALS_CHECKED, "KZ-NUR-ZHOLY", 50, carrier_id=INTRUDER),
    ]


def test_the_first_claim_keeps_the_consignment_and_the_later_one_is_an_alert() -> None:
    timeline = build_timeline(journey_with_a_hijack(), reference())
    assert timeline.carrier_id == OWNER
    [anomaly] = [a for a in timeline.anomalies if a.kind is AnomalyKind.IDENTITY_CONFLICT]
    assert anomaly.detail.startswith("carrier_id:")
    assert INTRUDER not in anomaly.detail
    assert OWNER not in anomaly.detail
    kinds = [alert.kind for alert in alerts_for_timeline(timeline)]
    assert AlertKind.IDENTITY_CONFLICT in kinds
    assert {alert.carrier_id for alert in alerts_for_timeline(timeline)} == {OWNER}


def test_a_declaration_outranks_an_earlier_gate_event() -> None:
    events = [
        event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0, carrier_id=INTRUDER),
        event(E.DECLARATION_ACCEPTED, "KZ-NUR-ZHOLY", 1, carrier_id=OWNER),
    ]
    assert build_timeline(events, reference()).carrier_id == OWNER


@given(st.randoms(use_true_random=False))
def test_arrival_order_does_not_change_the_owner(rng: random.Random) -> None:
    events = journey_with_a_hijack()
    rng.shuffle(events)
    timeline = build_timeline(events, reference())
    assert timeline.carrier_id == OWNER
    assert timeline.route_id == ROAD_ROUTE


def test_several_mrns_are_no_conflict() -> None:
    # One per transit declaration: a journey legitimately holds several.
    events = [
        event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0, references=References(mrn="24KZ000123T0001236")),
        event(E.GATE_RELEASED, "KZ-NUR-ZHOLY", 1, references=References(mrn="24KZ000999T0009990")),
    ]
    assert consignment_identity(build_timeline(events, reference()).events)[1] == []


def test_an_event_naming_no_value_makes_no_claim() -> None:
    known = ConsignmentIdentity(carrier_id=OWNER)
    # The contract requires a carrier today; a message mapped without one must still work.
    silent = event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY", 0).model_copy(update={"carrier_id": None})
    assert claim_conflicts(known, silent) == []
    assert claim_conflicts(ConsignmentIdentity(), event(E.GATE_ARRIVED, "KZ-NUR-ZHOLY")) == []


def test_another_carrier_for_a_known_consignment_is_a_conflict_on_carrier_id() -> None:
    known = ConsignmentIdentity(carrier_id=OWNER)
    [(field, rule)] = claim_conflicts(
        known, event(E.SEALS_CHECKED, "KZ-NUR-ZHOLY", carrier_id=INTRUDER)
    )
    assert field == "carrier_id"
    assert OWNER not in rule
