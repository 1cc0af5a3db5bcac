"""A planned event (what, when, where, from which system) and how it becomes a
`TransitEvent` or, on the fast path, its JSON text."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from corridor.events import (
    SCHEMA_VERSION,
    EventAttributes,
    EventType,
    References,
    Source,
    SourceSystem,
    TransitEvent,
)
from simulator import ids
from simulator.plans import Journey

# Parts of an event kept with their JSON, so the NDJSON fast path pastes text.
SourcePart = tuple[Source, str]
AttributesPart = tuple[EventAttributes, str]
ReferencesPart = tuple[References, str]


@lru_cache(maxsize=256)
def source_part(system: SourceSystem, message_type: str) -> SourcePart:
    source = Source(system=system, message_type=message_type)
    return source, source.model_dump_json()


@lru_cache(maxsize=8192)
def attributes_part(items: tuple[tuple[str, Any], ...]) -> AttributesPart:
    attributes = EventAttributes(**dict(items))
    return attributes, attributes.model_dump_json()


def attributes_of(**values: Any) -> AttributesPart:
    return attributes_part(tuple(values.items()))


def references_part(references: References) -> ReferencesPart:
    return references, references.model_dump_json()


class PlannedEvent(NamedTuple):
    at: int  # seconds since the epoch
    event_type: EventType
    location: str
    source: Source
    references: References
    attributes: EventAttributes
    stay: int | None  # the stay it belongs to, if any
    tail: str  # '"references":...,"source":...,"attributes":...}' of the event JSON


class EventFactory:
    """Turns planned events into `TransitEvent`s, or straight into their JSON."""

    def __init__(self, seed: int) -> None:
        self.event_id = ids.EventIds(seed)

    def build(
        self, journey: Journey, index: int, planned: PlannedEvent, shift: int = 0
    ) -> TransitEvent:
        return TransitEvent(
            event_id=UUID(self.event_id(journey.consignment_id, index)),
            event_type=planned.event_type,
            occurred_at=datetime.fromtimestamp(planned.at + shift, UTC),
            location=planned.location,
            consignment_id=journey.consignment_id,
            carrier_id=journey.carrier_id,
            references=planned.references,
            source=planned.source,
            attributes=planned.attributes,
        )

    def json(self, journey: Journey, index: int, planned: PlannedEvent, shift: int = 0) -> str:
        """Byte for byte `build(...).model_dump_json()`, without building the models.

        Safe because every part is pattern-checked plain ASCII (ids, codes) or JSON
        made by pydantic itself (references, source, attributes); a unit test holds
        the two paths equal on every event of a faulty run.
        """
        occurred = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(planned.at + shift))
        return (
            f'{{"schema_version":"{SCHEMA_VERSION}",'
            f'"event_id":"{self.event_id(journey.consignment_id, index)}",'
            f'"event_type":"{planned.event_type.value}","occurred_at":"{occurred}",'
            f'"location":"{planned.location}","consignment_id":"{journey.consignment_id}",'
            f'"carrier_id":"{journey.carrier_id}",{planned.tail}'
        )


def conflict_index(journey: Journey, plan: list[PlannedEvent], stay: int | None) -> int:
    """Where in the plan the event a `ConflictPlan` re-sends sits."""
    wanted = EventType.DECLARATION_SUBMITTED if stay is None else EventType.SEALS_CHECKED
    for index, planned in enumerate(plan):
        if planned.event_type is wanted and planned.stay == stay:
            return index
    raise LookupError(f"{journey.consignment_id}: no {wanted} for stay {stay}")
