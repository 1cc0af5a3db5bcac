"""Ground truth: what a correct tracker must conclude about every consignment.

Derived from the simulation's own schedule (what it meant to happen, what the window
let through and which departures it dropped), never from the emitted events, so it
is an independent oracle for `corridor.timeline.build_timeline`. Values are the
`corridor.journey` types themselves; `write_truth`/`read_truth` carry them as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from corridor.alerts import Alert, alert_for_anomaly
from corridor.anomalies import ADMINISTRATIVE_TYPES
from corridor.events import (
    ARRIVAL_TYPES,
    DEPARTURE_TYPES,
    LIFECYCLE_RANK,
    EventType,
    TransportMode,
)
from corridor.journey import (
    Anomaly,
    AnomalyKind,
    ConsignmentState,
    Crossing,
    Leg,
    Stay,
    StayStatus,
)
from corridor.plausibility import leg_breach
from corridor.reference import CorridorReference
from simulator.config import JourneyKind
from simulator.emit import EventFactory, PlannedEvent, conflict_index, plan_events
from simulator.faults import visible_indices
from simulator.journeys import Journey, StayPlan, permit_expiry

FORMAT = "corridor-simulator-truth/1"


def _dt(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class ConsignmentTruth:
    consignment_id: str
    carrier_id: str
    route_id: str
    mode: TransportMode
    kind: JourneyKind
    state: ConsignmentState
    current_location: str | None
    stays: tuple[Stay, ...]
    crossings: tuple[Crossing, ...]
    legs: tuple[Leg, ...]
    anomalies: tuple[Anomaly, ...]


@dataclass(frozen=True, slots=True)
class GroundTruth:
    start: datetime
    end: datetime
    consignments: dict[str, ConsignmentTruth]


class _Oracle:
    def __init__(self, reference: CorridorReference, end: int, factory: EventFactory) -> None:
        self.ref = reference
        self.end = end
        self.factory = factory

    def seen(self, ts: int | None) -> datetime | None:
        return _dt(ts) if ts is not None and ts <= self.end else None

    def consignment(self, j: Journey) -> ConsignmentTruth:
        reported = self.reported_stays(j)
        stays = tuple(stay for _, stay in reported)
        departures = self.departures(j)
        state, current = self.state(j, stays, departures)
        legs = self.legs(j, stays)
        return ConsignmentTruth(
            consignment_id=j.consignment_id,
            carrier_id=j.carrier_id,
            route_id=j.route.id,
            mode=j.mode,
            kind=j.kind,
            state=state,
            current_location=current,
            stays=stays,
            crossings=self.crossings(stays),
            legs=legs,
            anomalies=self.anomalies(j, stays, legs, departures),
        )

    def skew(self, j: Journey, location: str) -> int:
        """How far the location's own systems stamp their events off the real time."""
        return j.skew[1] if j.skew is not None and j.skew[0] == location else 0

    def departures(self, j: Journey) -> list[tuple[datetime, int]]:
        """Every departure reported by the window's end, as (when, stay index)."""
        out = []
        for i, s in enumerate(j.stays):
            at = self.seen(s.departed + self.skew(j, s.location))
            if at is not None and i not in j.dropped_departures:
                out.append((at, i))
        return out

    def reported_stays(self, j: Journey) -> list[tuple[int, Stay]]:
        """(stay index, Stay) as the reports show them: clocks skewed, silenced arrivals
        making no stay, ordered by the arrival reported."""
        shown: list[tuple[datetime, int, StayPlan]] = []
        for i, s in enumerate(j.stays):
            arrived = self.seen(s.arrived + self.skew(j, s.location))
            if arrived is not None and i not in j.silenced_arrivals:
                shown.append((arrived, i, s))
        shown.sort(key=lambda item: (item[0], item[1]))
        departed = dict((i, at) for at, i in self.departures(j))
        out: list[tuple[int, Stay]] = []
        for position, (arrived, i, s) in enumerate(shown):
            delta = self.skew(j, s.location)
            departed_at = departed.get(i)
            if departed_at is not None:
                status = StayStatus.COMPLETED
            elif any(later[2].location != s.location for later in shown[position + 1 :]):
                status = StayStatus.DEPARTURE_MISSING
            else:
                status = StayStatus.IN_PROGRESS
            begin, finish = s.inspection if s.inspection else (None, None)
            out.append(
                (
                    i,
                    Stay(
                        consignment_id=j.consignment_id,
                        location=s.location,
                        visit=1 + sum(1 for _, e in out if e.location == s.location),
                        arrived_at=arrived,
                        status=status,
                        released_at=self.seen(s.released + delta),
                        departed_at=departed_at,
                        inspection_started_at=self.seen(begin + delta if begin else None),
                        inspection_completed_at=self.seen(finish + delta if finish else None),
                    ),
                )
            )
        return out

    def state(
        self, j: Journey, stays: tuple[Stay, ...], departures: list[tuple[datetime, int]]
    ) -> tuple[ConsignmentState, str | None]:
        final = j.route.locations[-1]
        finishing: list[tuple[datetime, int, str]] = []
        if j.goods_released is not None and (at := self.seen(j.goods_released)):
            finishing.append((at, LIFECYCLE_RANK[EventType.GOODS_RELEASED], final))
        last = len(j.path) - 1
        finishing += [
            (at, LIFECYCLE_RANK[EventType.GATE_DEPARTED], final)
            for at, i in departures
            if i == last
        ]
        if j.discharged is not None and (at := self.seen(j.discharged)):
            finishing.append((at, LIFECYCLE_RANK[EventType.OPERATION_DISCHARGED], final))
        if j.cancelled is not None and self.seen(j.cancelled):
            return ConsignmentState.CANCELLED, None  # before the first arrival
        if finishing:
            return ConsignmentState.COMPLETED, min(finishing)[2]
        if stays and stays[-1].status is StayStatus.IN_PROGRESS:
            return ConsignmentState.AT_LOCATION, stays[-1].location
        if j.stays:  # the operation started at the first location: the goods move
            latest = max(departures, default=None)
            return ConsignmentState.IN_TRANSIT, j.stays[latest[1]].location if latest else None
        if j.rejected is not None and self.seen(j.rejected):
            return ConsignmentState.REJECTED, None
        if j.accepted is not None and self.seen(j.accepted):
            return ConsignmentState.DECLARED, None
        return ConsignmentState.ANNOUNCED, None

    def crossings(self, stays: tuple[Stay, ...]) -> tuple[Crossing, ...]:
        out: list[Crossing] = []
        for first, second in pairwise(stays):
            border = self.ref.border_between(first.location, second.location)
            if border is None:
                continue
            countries = (self.ref.location(s.location).country for s in (first, second))
            out.append(
                Crossing(
                    consignment_id=first.consignment_id,
                    border_id=border.id,
                    from_location=first.location,
                    to_location=second.location,
                    direction="->".join(countries),
                    arrived_at=first.arrived_at,
                    departed_at=second.departed_at,
                )
            )
        return tuple(out)

    def legs(self, j: Journey, stays: tuple[Stay, ...]) -> tuple[Leg, ...]:
        out: list[Leg] = []
        for origin, destination in pairwise(stays):
            if origin.departed_at is None or origin.location == destination.location:
                continue
            # A stay the reports missed leaves two locations no segment joins.
            segment = self.ref.segment(origin.location, destination.location)
            out.append(
                Leg(
                    consignment_id=origin.consignment_id,
                    from_location=origin.location,
                    to_location=destination.location,
                    mode=segment.mode if segment else j.route.mode,
                    departed_at=origin.departed_at,
                    arrived_at=destination.arrived_at,
                    distance_km=segment.km if segment else None,
                    origin_dwell_seconds=origin.dwell_seconds,
                )
            )
        return tuple(out)

    def anomalies(
        self,
        j: Journey,
        stays: tuple[Stay, ...],
        legs: tuple[Leg, ...],
        departures: list[tuple[datetime, int]],
    ) -> tuple[Anomaly, ...]:
        orphans = [i for _, i in departures if i in j.silenced_arrivals]
        implausible = [(leg, breach) for leg in legs if (breach := leg_breach(leg))]
        jumps = [
            (a, b)
            for a, b in pairwise(stays)
            if a.location != b.location and self.ref.segment(a.location, b.location) is None
        ]
        regular = j.kind is JourneyKind.REGULAR
        if not (j.conflicts or orphans or implausible or jumps) and regular:
            return ()
        plan = plan_events(j, self.ref)
        out = self.outcome_anomalies(j, plan)
        out += self.source_anomalies(j, plan, orphans, implausible, jumps)
        for conflict in j.conflicts:
            index = conflict_index(j, plan, conflict.stay)
            versions = [
                self.factory.build(j, index, plan[index], shift) for shift in (0, conflict.shift)
            ]
            kept = min(versions, key=lambda event: event.fingerprint())
            out.append(
                Anomaly(
                    consignment_id=j.consignment_id,
                    kind=AnomalyKind.CONFLICTING_DUPLICATE,
                    event_id=str(kept.event_id),
                    location=kept.location,
                    occurred_at=kept.occurred_at,
                    detail="2 different versions of this event; kept one",
                )
            )
        return tuple(sorted(out, key=lambda a: (a.occurred_at, a.event_id, a.kind.value, a.detail)))

    def anomaly_at(
        self, j: Journey, plan: list[PlannedEvent], index: int, kind: AnomalyKind, detail: str
    ) -> Anomaly:
        """The anomaly the tracker reports on the plan's `index`-th event."""
        event = self.factory.build(j, index, plan[index])
        return Anomaly(
            j.consignment_id, kind, str(event.event_id), event.location, event.occurred_at, detail
        )

    def source_anomalies(
        self,
        j: Journey,
        plan: list[PlannedEvent],
        orphans: list[int],
        implausible: list[tuple[Leg, tuple[AnomalyKind, str]]],
        jumps: list[tuple[Stay, Stay]],
    ) -> list[Anomaly]:
        """What a silent gate and a wrong clock make a correct tracker report."""
        shown = visible_indices(j, plan, self.end)
        arrivals: dict[tuple[str, datetime], int] = {}
        for i in shown:
            if plan[i].event_type in ARRIVAL_TYPES:
                arrivals.setdefault((plan[i].location, _dt(plan[i].at)), i)
        out: list[Anomaly] = []

        def at(index: int, kind: AnomalyKind, detail: str) -> None:
            out.append(self.anomaly_at(j, plan, index, kind, detail))

        for stay in orphans:
            index = next(
                i for i in shown if plan[i].stay == stay and plan[i].event_type in DEPARTURE_TYPES
            )
            location = plan[index].location
            at(
                index,
                AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL,
                f"departed {location} without an open visit there",
            )
        for leg, (kind, detail) in implausible:
            at(arrivals[(leg.to_location, leg.arrived_at)], kind, detail)
        for origin, destination in jumps:
            detail = f"{origin.location} -> {destination.location}: no segment joins them"
            index = arrivals[(destination.location, destination.arrived_at)]
            at(index, AnomalyKind.UNCONNECTED_JUMP, detail)
        return out

    def outcome_anomalies(self, j: Journey, plan: list[PlannedEvent]) -> list[Anomaly]:
        """What the journey's kind makes a correct tracker report, read off the plan."""
        out: list[Anomaly] = []
        shown = visible_indices(j, plan, self.end)

        def at(index: int, kind: AnomalyKind, detail: str) -> None:
            out.append(self.anomaly_at(j, plan, index, kind, detail))

        on_route, off_seen = set(j.route.locations), set()
        sealed: list[int] = []
        used: set[str | None] = set()
        permits = {p.permit_id: p for p in j.permits}
        for i in shown:
            p = plan[i]
            off_route = p.event_type not in ADMINISTRATIVE_TYPES and p.location not in on_route
            if off_route and p.location not in off_seen:
                off_seen.add(p.location)
                at(i, AnomalyKind.OFF_ROUTE, f"{p.location} is not on declared route {j.route.id}")
            if p.attributes.seals is not None:
                if sealed:
                    before = plan[sealed[-1]]
                    old, new = set(before.attributes.seals or ()), set(p.attributes.seals)
                    if old != new:
                        detail = f"seals {sorted(old)} at {before.location} became {sorted(new)}"
                        at(i, AnomalyKind.SEAL_CHANGED, detail)
                sealed.append(i)
            permit_id = p.references.permit_id
            if p.event_type is EventType.PERMIT_USED:
                used.add(permit_id)
                expiry = _dt(permit_expiry(j, permits[permit_id or ""]))
                if _dt(p.at) > expiry:
                    detail = f"permit {permit_id} used after expiry {expiry.isoformat()}"
                    at(i, AnomalyKind.PERMIT_EXPIRED, detail)
            second_truck = j.split is not None and p.references.vehicle_plates == j.split.plates
            if p.event_type is EventType.GATE_DEPARTED and second_truck:
                # The first truck's departure closed the visit the second one joined.
                detail = f"departed {p.location} without an open visit there"
                at(i, AnomalyKind.DEPARTURE_WITHOUT_ARRIVAL, detail)
            if p.event_type is EventType.PERMIT_REVOKED and permit_id in used:
                at(
                    i,
                    AnomalyKind.INVALID_TRANSITION,
                    "permit revoked after it was used; not applied",
                )
        return out


def expected_alerts(truth: ConsignmentTruth) -> list[Alert]:
    """The alerts a correct tracker raises for the consignment's anomalies."""
    return [alert_for_anomaly(anomaly, truth.carrier_id) for anomaly in truth.anomalies]


def derive_truth(
    journeys: Iterable[Journey],
    reference: CorridorReference,
    start: datetime,
    end: datetime,
    factory: EventFactory,
) -> GroundTruth:
    oracle = _Oracle(reference, int(end.timestamp()), factory)
    by_id = {j.consignment_id: oracle.consignment(j) for j in journeys}
    return GroundTruth(start=start, end=end, consignments=by_id)


# -- JSON ------------------------------------------------------------------------------


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _stay_json(s: Stay) -> dict[str, Any]:
    return {
        "location": s.location,
        "visit": s.visit,
        "arrived_at": _iso(s.arrived_at),
        "released_at": _iso(s.released_at),
        "departed_at": _iso(s.departed_at),
        "dwell_seconds": s.dwell_seconds,
        "status": s.status.value,
        "inspection_started_at": _iso(s.inspection_started_at),
        "inspection_completed_at": _iso(s.inspection_completed_at),
    }


def _crossing_json(c: Crossing) -> dict[str, Any]:
    return {
        "border_id": c.border_id,
        "from": c.from_location,
        "to": c.to_location,
        "direction": c.direction,
        "arrived_at": _iso(c.arrived_at),
        "departed_at": _iso(c.departed_at),
        "tfi1_seconds": c.tfi1_seconds,
    }


def _leg_json(leg: Leg) -> dict[str, Any]:
    return {
        "from": leg.from_location,
        "to": leg.to_location,
        "mode": leg.mode.value,
        "departed_at": _iso(leg.departed_at),
        "arrived_at": _iso(leg.arrived_at),
        "travel_seconds": leg.travel_seconds,
        "distance_km": leg.distance_km,
        "origin_dwell_seconds": leg.origin_dwell_seconds,
    }


def _anomaly_json(a: Anomaly) -> dict[str, Any]:
    return {
        "kind": a.kind.value,
        "event_id": a.event_id,
        "location": a.location,
        "occurred_at": _iso(a.occurred_at),
        "detail": a.detail,
    }


def consignment_json(c: ConsignmentTruth) -> dict[str, Any]:
    return {
        "consignment_id": c.consignment_id,
        "carrier_id": c.carrier_id,
        "route_id": c.route_id,
        "mode": c.mode.value,
        "kind": c.kind.value,
        "state": c.state.value,
        "current_location": c.current_location,
        "stays": [_stay_json(s) for s in c.stays],
        "crossings": [_crossing_json(x) for x in c.crossings],
        "legs": [_leg_json(leg) for leg in c.legs],
        "anomalies": [_anomaly_json(a) for a in c.anomalies],
    }


def write_truth(truth: GroundTruth, path: Path, config: dict[str, Any]) -> None:
    """One JSON document; one consignment per line so diffs stay readable."""
    head = {"format": FORMAT, "start": _iso(truth.start), "end": _iso(truth.end), "config": config}
    lines = [
        json.dumps(consignment_json(c), separators=(",", ":")) for c in truth.consignments.values()
    ]
    with path.open("w", encoding="utf-8") as out:
        out.write(json.dumps(head, separators=(",", ":"))[:-1])
        out.write(',"consignments":[\n')
        out.write(",\n".join(lines))
        out.write("\n]}\n")


def read_truth(path: Path) -> GroundTruth:
    document = json.loads(path.read_text(encoding="utf-8"))
    if document.get("format") != FORMAT:
        raise ValueError(f"{path}: not a {FORMAT} document")
    consignments = {
        item["consignment_id"]: _consignment_from_json(item) for item in document["consignments"]
    }
    start, end = _required(document["start"]), _required(document["end"])
    return GroundTruth(start=start, end=end, consignments=consignments)


def _required(text: str | None) -> datetime:
    moment = _parse(text)
    if moment is None:
        raise ValueError("a required timestamp is null")
    return moment


def _consignment_from_json(item: dict[str, Any]) -> ConsignmentTruth:
    cid = item["consignment_id"]
    stays = tuple(
        Stay(
            consignment_id=cid,
            location=s["location"],
            visit=s["visit"],
            arrived_at=_required(s["arrived_at"]),
            status=StayStatus(s["status"]),
            released_at=_parse(s["released_at"]),
            departed_at=_parse(s["departed_at"]),
            inspection_started_at=_parse(s["inspection_started_at"]),
            inspection_completed_at=_parse(s["inspection_completed_at"]),
        )
        for s in item["stays"]
    )
    crossings = tuple(
        Crossing(
            consignment_id=cid,
            border_id=c["border_id"],
            from_location=c["from"],
            to_location=c["to"],
            direction=c["direction"],
            arrived_at=_required(c["arrived_at"]),
            departed_at=_parse(c["departed_at"]),
        )
        for c in item["crossings"]
    )
    legs = tuple(
        Leg(
            consignment_id=cid,
            from_location=leg["from"],
            to_location=leg["to"],
            mode=TransportMode(leg["mode"]),
            departed_at=_required(leg["departed_at"]),
            arrived_at=_required(leg["arrived_at"]),
            distance_km=leg["distance_km"],
            origin_dwell_seconds=leg["origin_dwell_seconds"],
        )
        for leg in item["legs"]
    )
    anomalies = tuple(
        Anomaly(
            consignment_id=cid,
            kind=AnomalyKind(a["kind"]),
            event_id=a["event_id"],
            location=a["location"],
            occurred_at=_required(a["occurred_at"]),
            detail=a["detail"],
        )
        for a in item["anomalies"]
    )
    return ConsignmentTruth(
        consignment_id=cid,
        carrier_id=item["carrier_id"],
        route_id=item["route_id"],
        mode=TransportMode(item["mode"]),
        kind=JourneyKind(item.get("kind", JourneyKind.REGULAR.value)),
        state=ConsignmentState(item["state"]),
        current_location=item["current_location"],
        stays=stays,
        crossings=crossings,
        legs=legs,
        anomalies=anomalies,
    )
