"""The ground truth as a file: one JSON document, one consignment per line (what
`python -m simulator generate` writes beside the events), and read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corridor.events import TransportMode
from corridor.model import Anomaly, AnomalyKind, ConsignmentState, Crossing, Leg, Stay, StayStatus
from simulator.config import JourneyKind
from simulator.truth import ConsignmentTruth, GroundTruth

FORMAT = "corridor-simulator-truth/1"


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
    return ConsignmentTruth(
        consignment_id=cid,
        carrier_id=item["carrier_id"],
        route_id=item["route_id"],
        mode=TransportMode(item["mode"]),
        kind=JourneyKind(item.get("kind", JourneyKind.REGULAR.value)),
        state=ConsignmentState(item["state"]),
        current_location=item["current_location"],
        stays=tuple(_stay_from_json(cid, s) for s in item["stays"]),
        crossings=tuple(_crossing_from_json(cid, c) for c in item["crossings"]),
        legs=tuple(_leg_from_json(cid, leg) for leg in item["legs"]),
        anomalies=tuple(_anomaly_from_json(cid, a) for a in item["anomalies"]),
    )


def _stay_from_json(cid: str, s: dict[str, Any]) -> Stay:
    return Stay(
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


def _crossing_from_json(cid: str, c: dict[str, Any]) -> Crossing:
    return Crossing(
        consignment_id=cid,
        border_id=c["border_id"],
        from_location=c["from"],
        to_location=c["to"],
        direction=c["direction"],
        arrived_at=_required(c["arrived_at"]),
        departed_at=_parse(c["departed_at"]),
    )


def _leg_from_json(cid: str, leg: dict[str, Any]) -> Leg:
    return Leg(
        consignment_id=cid,
        from_location=leg["from"],
        to_location=leg["to"],
        mode=TransportMode(leg["mode"]),
        departed_at=_required(leg["departed_at"]),
        arrived_at=_required(leg["arrived_at"]),
        distance_km=leg["distance_km"],
        origin_dwell_seconds=leg["origin_dwell_seconds"],
    )


def _anomaly_from_json(cid: str, a: dict[str, Any]) -> Anomaly:
    return Anomaly(
        consignment_id=cid,
        kind=AnomalyKind(a["kind"]),
        event_id=a["event_id"],
        location=a["location"],
        occurred_at=_required(a["occurred_at"]),
        detail=a["detail"],
    )
