"""Small builders for hand-made consignments: `event(...)` and a few whole journeys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from corridor.events import (
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransitEvent,
)
from corridor.reference import CorridorReference, load_reference

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CONSIGNMENT = "CONS-0001"
CARRIER = "CARRIER-KZ-01"
ROAD_ROUTE = "road-nur-zholy-aktau-kapikule"
POTI_ROUTE = "road-nur-zholy-aktau-poti"
_IDS = uuid.UUID("6f1d2c1e-0000-4000-8000-000000000000")

_SYSTEM_BY_PREFIX = {
    "declaration": SourceSystem.NCTS,
    "border": SourceSystem.NCTS,
    "operation": SourceSystem.ETIR,
    "goods": SourceSystem.NCTS,
    "consignment": SourceSystem.NCTS,
    "incident": SourceSystem.NCTS,
    "seals": SourceSystem.GATE,
    "gate": SourceSystem.GATE,
    "inspection": SourceSystem.GATE,
    "vessel": SourceSystem.PORT,
    "permit": SourceSystem.EPERMIT,
}

_REFERENCE: CorridorReference | None = None


def reference() -> CorridorReference:
    """The shipped reference data, parsed once for the whole unit suite."""
    global _REFERENCE
    if _REFERENCE is None:
        _REFERENCE = load_reference()
    return _REFERENCE


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def event(
    event_type: EventType,
    location: str,
    hours: float = 0.0,
    *,
    consignment_id: str = CONSIGNMENT,
    carrier_id: str = CARRIER,
    event_id: uuid.UUID | str | None = None,
    references: References | None = None,
    **attributes: Any,
) -> TransitEvent:
    """An event `hours` after T0; the id is derived from the content unless given."""
    if event_id is None:
        event_id = uuid.uuid5(_IDS, f"{consignment_id}|{event_type}|{location}|{hours}")
    return TransitEvent(
        event_id=uuid.UUID(str(event_id)),
        event_type=event_type,
        occurred_at=at(hours),
        location=location,
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        references=references or References(),
        source=Source(system=_SYSTEM_BY_PREFIX[event_type.value.split(".")[0]]),
        attributes=EventAttributes(**attributes),
    )


def visit(
    location: str, arrive: float, depart: float | None, **attributes: Any
) -> list[TransitEvent]:
    """Arrival, release and (if given) departure at one location."""
    events = [event(EventType.GATE_ARRIVED, location, arrive, **attributes)]
    if depart is not None:
        events.append(event(EventType.GATE_RELEASED, location, (arrive + depart) / 2))
        events.append(event(EventType.GATE_DEPARTED, location, depart, **attributes))
    return events


def declared(route_id: str = ROAD_ROUTE, hours: float = -10.0) -> list[TransitEvent]:
    """Submitted and accepted declaration naming `route_id`, at the office of departure."""
    return [
        event(EventType.DECLARATION_SUBMITTED, "CN-KHORGOS", hours - 1, route_id=route_id),
        event(EventType.DECLARATION_ACCEPTED, "CN-KHORGOS", hours, route_id=route_id),
    ]


def khorgos_to_aktau() -> list[TransitEvent]:
    """Declared, started at Khorgos, across to Nur Zholy, and on to Aktau (still there)."""
    return [
        *declared(),
        event(EventType.OPERATION_STARTED, "CN-KHORGOS", -5),
        *visit("CN-KHORGOS", 0, 20),
        *visit("KZ-NUR-ZHOLY", 21, 30),
        *visit("KZ-AKTAU", 90, None),
    ]
