"""Phase two: the events a real system would report for one scheduled journey.

`plan_events` lists them, in timeline order, as light tuples; `EventFactory.build`
turns one into a `TransitEvent`. The plan is a pure function of the journey, so the
same event always gets the same index and therefore the same `event_id`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from corridor.events import (
    LIFECYCLE_RANK,
    SCHEMA_VERSION,
    BorderDirection,
    EventAttributes,
    EventType,
    PermitActivity,
    References,
    Source,
    SourceSystem,
    TransitEvent,
    TransportMode,
)
from corridor.reference import CorridorReference, LocationKind
from simulator import ids
from simulator.journeys import (
    Journey,
    Permit,
    Split,
    StayPlan,
    has_seal_check,
    permit_expiry,
    permit_revocation,
    permit_use_at,
    reseal_at,
    seal_check_at,
)

E = EventType

# Message types per source vocabulary (DOMAIN.md section 2); eTIR for road TIR
# transports, NCTS for rail transit.
_ETIR = {
    E.DECLARATION_SUBMITTED: "E9",
    E.DECLARATION_ACCEPTED: "I7",
    E.DECLARATION_REJECTED: "I17",  # refusal to start
    E.CONSIGNMENT_CANCELLED: "E3",  # guarantee cancellation
    E.OPERATION_STARTED: "I9",
    E.OPERATION_TERMINATED: "I11",
    E.BORDER_PRENOTIFIED: "I15",
    E.OPERATION_DISCHARGED: "I13",
}
_NCTS = {
    E.DECLARATION_SUBMITTED: "CC015C",
    E.DECLARATION_ACCEPTED: "CC028C",
    E.DECLARATION_REJECTED: "CC056C",
    E.CONSIGNMENT_CANCELLED: "CC009C",
    E.INCIDENT_REPORTED: "CC182C",
    E.OPERATION_STARTED: "CD118C",  # crossing a frontier at an office of transit
    E.OPERATION_TERMINATED: "CD168C",  # leaving the security area at exit
    E.BORDER_PRENOTIFIED: "CD050C",
    E.OPERATION_DISCHARGED: "CC045C",
}
_GATE = {
    E.GATE_ARRIVED: "GATE_IN",
    E.INSPECTION_STARTED: "INSPECTION_START",
    E.INSPECTION_COMPLETED: "INSPECTION_END",
    E.GATE_RELEASED: "GATE_RELEASE",
    E.GATE_DEPARTED: "GATE_OUT",
    E.SEALS_CHECKED: "SEAL_CHECK",
    E.VESSEL_ARRIVED: "VESSEL_ARRIVED",
    E.VESSEL_UNLOADED: "VESSEL_UNLOADED",
    E.VESSEL_LOADED: "VESSEL_LOADED",
    E.VESSEL_DEPARTED: "VESSEL_DEPARTED",
    # No eTIR message reports an incident: the control point the truck reaches next does.
    E.INCIDENT_REPORTED: "INCIDENT_REPORT",
}


# Systems at the location itself: a wrong clock there skews only their events.
_STAMPED_LOCALLY = frozenset({SourceSystem.GATE, SourceSystem.PORT})

# Parts of an event kept with their JSON, so the NDJSON fast path pastes text.
SourcePart = tuple[Source, str]
AttributesPart = tuple[EventAttributes, str]
ReferencesPart = tuple[References, str]


@lru_cache(maxsize=256)
def _source(system: SourceSystem, message_type: str) -> SourcePart:
    source = Source(system=system, message_type=message_type)
    return source, source.model_dump_json()


@lru_cache(maxsize=8192)
def _attributes(items: tuple[tuple[str, Any], ...]) -> AttributesPart:
    attributes = EventAttributes(**dict(items))
    return attributes, attributes.model_dump_json()


def _attrs(**values: Any) -> AttributesPart:
    return _attributes(tuple(values.items()))


def _references(references: References) -> ReferencesPart:
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


class _Planner:
    def __init__(self, journey: Journey, reference: CorridorReference) -> None:
        self.j = journey
        self.ref = reference
        self.road = journey.mode is TransportMode.ROAD
        ident = journey.identity
        self.refs = _references(
            References(
                tir_carnet=ident.tir_carnet,
                mrn=ident.mrn,
                vehicle_plates=ident.plates,
                container_numbers=ident.containers,
            )
        )
        self.out: list[PlannedEvent] = []
        self.last = len(journey.path) - 1

    def add(
        self,
        at: int,
        event_type: EventType,
        location: str,
        source: SourcePart,
        attributes: AttributesPart,
        stay: int | None = None,
        references: ReferencesPart | None = None,
    ) -> None:
        refs, refs_json = references or self.refs
        skew = self.j.skew
        if skew is not None and location == skew[0] and source[0].system in _STAMPED_LOCALLY:
            at += skew[1]
        tail = f'"references":{refs_json},"source":{source[1]},"attributes":{attributes[1]}}}'
        planned = PlannedEvent(at, event_type, location, source[0], refs, attributes[0], stay, tail)
        self.out.append(planned)

    def customs(self, event_type: EventType, destination: bool = False) -> SourcePart:
        if self.road:
            return _source(SourceSystem.ETIR, _ETIR[event_type])
        if event_type is E.OPERATION_TERMINATED and destination:
            return _source(SourceSystem.NCTS, "CC007C")  # arrival notification at destination
        return _source(SourceSystem.NCTS, _NCTS[event_type])

    def gate(self, event_type: EventType, location: str) -> SourcePart:
        kind = self.ref.location(location).kind
        system = SourceSystem.PORT if kind is LocationKind.SEA_PORT else SourceSystem.GATE
        return _source(system, _GATE[event_type])

    def plan(self) -> list[PlannedEvent]:
        j = self.j
        origin = j.path[0]
        office = ids.customs_office(origin)
        declared = _attrs(mode=j.mode, route_id=j.route.id, customs_office=office)
        self.add(
            j.submitted,
            E.DECLARATION_SUBMITTED,
            origin,
            self.customs(E.DECLARATION_SUBMITTED),
            declared,
        )
        if j.accepted is not None:
            self.add(
                j.accepted,
                E.DECLARATION_ACCEPTED,
                origin,
                self.customs(E.DECLARATION_ACCEPTED),
                declared,
            )
        self._outcome(origin, office)
        for permit in j.permits:
            self._permit_issued(permit)
        for index, stay in enumerate(j.stays):
            self._stay(index, stay)
        if j.stays and len(j.stays) == self.last + 1:
            self._destination(j.stays[-1])
        rank = LIFECYCLE_RANK
        # Stable sort: simultaneous events keep their natural lifecycle order.
        self.out.sort(key=lambda e: (e.at, rank[e.event_type]))
        return self.out

    def _outcome(self, origin: str, office: str) -> None:
        """The events of a journey that is rejected, cancelled or has an incident."""
        j = self.j
        if j.rejected is not None:
            reason = _attrs(mode=j.mode, customs_office=office, reason="guarantee not valid")
            source = self.customs(E.DECLARATION_REJECTED)
            self.add(j.rejected, E.DECLARATION_REJECTED, origin, source, reason)
        if j.cancelled is not None:
            reason = _attrs(mode=j.mode, customs_office=office, reason="cancelled by the holder")
            source = self.customs(E.CONSIGNMENT_CANCELLED)
            self.add(j.cancelled, E.CONSIGNMENT_CANCELLED, origin, source, reason)
        incident = j.incident
        if incident is not None and incident.leg + 1 < len(j.stays):
            where = j.path[incident.leg + 1]  # registered where the truck next presents
            source = (
                _source(SourceSystem.NCTS, _NCTS[E.INCIDENT_REPORTED])
                if not self.road
                else _source(SourceSystem.GATE, _GATE[E.INCIDENT_REPORTED])
            )
            attrs = _attrs(mode=j.mode, reason=incident.reason, seals=incident.new_seals)
            self.add(incident.at, E.INCIDENT_REPORTED, where, source, attrs)

    def seals_at(self, k: int) -> tuple[str, ...]:
        """The seals a check at stay k sees: the latest fitted before it."""
        j, seals = self.j, self.j.identity.seals
        incident = j.incident
        if incident is not None and incident.new_seals is not None and incident.leg < k:
            seals = incident.new_seals
        if j.reseal is not None and j.reseal[0] < k:
            seals = j.reseal[1]
        return seals

    def _permit_refs(self, permit: Permit) -> ReferencesPart:
        return _references(self.refs[0].model_copy(update={"permit_id": permit.permit_id}))

    def _permit_issued(self, permit: Permit) -> None:
        location = self.j.path[permit.entry_stay]
        expires = datetime.fromtimestamp(permit_expiry(self.j, permit), UTC)
        refs = self._permit_refs(permit)
        self.add(
            permit.issued,
            E.PERMIT_ISSUED,
            location,
            _source(SourceSystem.EPERMIT, "PERMIT_CREATED"),
            _attrs(permit_expires_at=expires),
            references=refs,
        )
        revoked = permit_revocation(self.j, permit)
        if revoked is not None:
            source = _source(SourceSystem.EPERMIT, "PERMIT_REVOKED")
            attrs = _attrs(reason="revoked by the issuing authority")
            self.add(revoked, E.PERMIT_REVOKED, location, source, attrs, references=refs)

    def _stay(self, k: int, s: StayPlan) -> None:
        j, loc = self.j, s.location
        gate_attrs = _attrs(direction=s.direction, mode=j.mode)
        service = s.released - s.start
        if s.landed is not None:
            vessel = _attrs(
                direction=s.direction, mode=j.mode, vessel=s.landed.vessel, voyage=s.landed.voyage
            )
            self.add(s.arrived, E.VESSEL_ARRIVED, loc, self.gate(E.VESSEL_ARRIVED, loc), vessel, k)
            unloaded = s.start + service * 10 // 100
            self.add(unloaded, E.VESSEL_UNLOADED, loc, self.gate(E.VESSEL_UNLOADED, loc), vessel, k)
        else:
            self.add(s.arrived, E.GATE_ARRIVED, loc, self.gate(E.GATE_ARRIVED, loc), gate_attrs, k)
        office = ids.customs_office(loc)
        entry = s.direction is BorderDirection.INBOUND or k == 0
        if entry:
            started = s.start + service * 5 // 100
            source = (
                _source(SourceSystem.NCTS, "CC029C")
                if k == 0 and not self.road
                else self.customs(E.OPERATION_STARTED)
            )
            self.add(
                started,
                E.OPERATION_STARTED,
                loc,
                source,
                _attrs(mode=j.mode, customs_office=office),
                k,
            )
        for permit in j.permits:
            if permit.entry_stay == k and permit.used:
                self._permit_used(permit, permit_use_at(s), loc, PermitActivity.ENTRANCE, k)
        if has_seal_check(j, k):
            sealed = _attrs(mode=j.mode, seals=self.seals_at(k))
            self.add(
                seal_check_at(s), E.SEALS_CHECKED, loc, self.gate(E.SEALS_CHECKED, loc), sealed, k
            )
        if j.reseal is not None and j.reseal[0] == k:
            resealed = _attrs(mode=j.mode, seals=j.reseal[1], reason="seals replaced at inspection")
            source = self.gate(E.SEALS_CHECKED, loc)
            self.add(reseal_at(s), E.SEALS_CHECKED, loc, source, resealed, k)
        if s.inspection is not None:
            checked = _attrs(direction=s.direction, mode=j.mode, inspection_channel=s.channel)
            begin, end = s.inspection
            self.add(
                begin, E.INSPECTION_STARTED, loc, self.gate(E.INSPECTION_STARTED, loc), checked, k
            )
            self.add(
                end, E.INSPECTION_COMPLETED, loc, self.gate(E.INSPECTION_COMPLETED, loc), checked, k
            )
        released = _attrs(direction=s.direction, mode=j.mode, inspection_channel=s.channel)
        self.add(s.released, E.GATE_RELEASED, loc, self.gate(E.GATE_RELEASED, loc), released, k)
        after = s.departed - s.released
        if self._leaves_country(k):
            destination = k == self.last
            terminated = s.released + min(600, after // 3)
            source = self.customs(E.OPERATION_TERMINATED, destination)
            self.add(
                terminated,
                E.OPERATION_TERMINATED,
                loc,
                source,
                _attrs(mode=j.mode, customs_office=office),
                k,
            )
        for permit in j.permits:
            if permit.exit_stay == k and permit.used:
                self._permit_used(
                    permit, s.released + min(900, after // 2), loc, PermitActivity.EXIT, k
                )
        if s.boarded is not None:
            vessel = _attrs(
                direction=s.direction, mode=j.mode, vessel=s.boarded.vessel, voyage=s.boarded.voyage
            )
            loaded = s.departed - min(4 * 3600, after // 2)
            self.add(loaded, E.VESSEL_LOADED, loc, self.gate(E.VESSEL_LOADED, loc), vessel, k)
            self.add(
                s.departed, E.VESSEL_DEPARTED, loc, self.gate(E.VESSEL_DEPARTED, loc), vessel, k
            )
        else:
            self.add(
                s.departed, E.GATE_DEPARTED, loc, self.gate(E.GATE_DEPARTED, loc), gate_attrs, k
            )
        if k < self.last:
            self._prenotify(k, s)
        split = j.split
        if split is not None and k >= split.first:
            self._second_truck(k, s, split)

    def _second_truck(self, k: int, s: StayPlan, split: Split) -> None:
        """The second truck's gate reports: it queues right behind the first (at the port
        where the goods were split it only leaves), and leaves `lag` seconds after it."""
        j, loc = self.j, s.location
        refs = _references(self.refs[0].model_copy(update={"vehicle_plates": split.plates}))
        attrs = _attrs(direction=s.direction, mode=j.mode)
        if k > split.first:
            behind = min(split.lag, (s.departed - s.arrived) // 2)
            source = self.gate(E.GATE_ARRIVED, loc)
            self.add(s.arrived + behind, E.GATE_ARRIVED, loc, source, attrs, k, refs)
        released = _attrs(direction=s.direction, mode=j.mode, inspection_channel=s.channel)
        source = self.gate(E.GATE_RELEASED, loc)
        self.add(s.released + split.lag, E.GATE_RELEASED, loc, source, released, k, refs)
        source = self.gate(E.GATE_DEPARTED, loc)
        self.add(s.departed + split.lag, E.GATE_DEPARTED, loc, source, attrs, k, refs)

    def _leaves_country(self, k: int) -> bool:
        if k == self.last:
            return True
        here, there = self.j.path[k], self.j.path[k + 1]
        return self.ref.location(here).country != self.ref.location(there).country

    def _prenotify(self, k: int, s: StayPlan) -> None:
        nxt = self.j.path[k + 1]
        if self.ref.location(nxt).country == self.ref.location(s.location).country:
            return
        attrs = _attrs(
            direction=BorderDirection.INBOUND,
            mode=self.j.mode,
            customs_office=ids.customs_office(nxt),
        )
        self.add(
            s.departed + 60, E.BORDER_PRENOTIFIED, nxt, self.customs(E.BORDER_PRENOTIFIED), attrs
        )

    def _permit_used(
        self, permit: Permit, at: int, loc: str, activity: PermitActivity, k: int
    ) -> None:
        attrs = _attrs(permit_activity=activity, mode=self.j.mode)
        source = _source(SourceSystem.EPERMIT, "PERMIT_USED")
        self.add(at, E.PERMIT_USED, loc, source, attrs, k, self._permit_refs(permit))

    def _destination(self, s: StayPlan) -> None:
        j, loc = self.j, s.location
        attrs = _attrs(mode=j.mode, customs_office=ids.customs_office(loc))
        if j.goods_released is not None:
            self.add(
                j.goods_released, E.GOODS_RELEASED, loc, _source(SourceSystem.NCTS, "CC025C"), attrs
            )
        if j.discharged is not None:
            self.add(
                j.discharged,
                E.OPERATION_DISCHARGED,
                loc,
                self.customs(E.OPERATION_DISCHARGED),
                attrs,
            )


def plan_events(journey: Journey, reference: CorridorReference) -> list[PlannedEvent]:
    """Every event of the journey, window or not, in timeline order."""
    return _Planner(journey, reference).plan()


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
        """Byte for byte `build(...).model_dump_json()`, several times faster.

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
    wanted = E.DECLARATION_SUBMITTED if stay is None else E.SEALS_CHECKED
    for index, planned in enumerate(plan):
        if planned.event_type is wanted and planned.stay == stay:
            return index
    raise LookupError(f"{journey.consignment_id}: no {wanted} for stay {stay}")
