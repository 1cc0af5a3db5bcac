"""The corridor drawn from the reference data's coordinates, for the carrier page's SVG.

No map tiles: locations are projected equirectangularly (longitude scaled by the cosine
of the corridor's middle latitude, so distances look right around 42° N), north-south
stretched twice (the corridor is seven times wider than tall, and ports and border
posts close together would overlap), into a box as wide as the page; segments become
lines, and trucks become markers at their last known place: at a location while they
are there, halfway along the leg to the next stop of their route while travelling.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from corridor.reference import CorridorReference

WIDTH, MARGIN = 960.0, 36.0
VERTICAL_EXAGGERATION = 2.0
# The places named on the map, and below (+) or above (-) their dot: a few landmarks,
# since neighbours such as the two sides of a border post would print over each other.
LABELS: dict[str, int] = {
    "CN-KHORGOS": -1,
    "CN-ALASHANKOU": -1,
    "CN-IRKESHTAM": 1,
    "KZ-AKTAU": -1,
    "KZ-KURYK": 1,
    "AZ-ALAT": 1,
    "AZ-RED-BRIDGE": -1,
    "GE-POTI": -1,
    "GE-SARPI": 1,
    "TR-KAPIKULE": -1,
}


@dataclass(frozen=True, slots=True)
class Point:
    x: float
    y: float


@dataclass(frozen=True, slots=True)
class Place:
    code: str
    name: str
    at: Point
    kind: str
    anchor: str  # where its label hangs: "start" (right of it) or "end" (left of it)
    label_dy: float | None  # the label's offset below the dot; None: not named on the map


@dataclass(frozen=True, slots=True)
class Line:
    start: Point
    end: Point
    mode: str


@dataclass(frozen=True, slots=True)
class Truck:
    consignment_id: str
    at: Point
    label: str


@dataclass(frozen=True, slots=True)
class CorridorMap:
    width: float
    height: float
    places: tuple[Place, ...]
    lines: tuple[Line, ...]
    trucks: tuple[Truck, ...]


@dataclass(frozen=True, slots=True)
class TruckPosition:
    consignment_id: str
    location: str
    next_location: str | None  # travelling towards it; None while at `location`
    label: str


class Projection:
    def __init__(self, reference: CorridorReference) -> None:
        lats = [loc.lat for loc in reference.locations]
        lons = [loc.lon for loc in reference.locations]
        self._cos = math.cos(math.radians((min(lats) + max(lats)) / 2))
        self._west, self._north = min(lons), max(lats)
        self._scale = (WIDTH - 2 * MARGIN) / ((max(lons) - self._west) * self._cos)
        self.height = round(
            (self._north - min(lats)) * self._scale * VERTICAL_EXAGGERATION + 2 * MARGIN, 1
        )

    def __call__(self, lat: float, lon: float) -> Point:
        x = MARGIN + (lon - self._west) * self._cos * self._scale
        y = MARGIN + (self._north - lat) * self._scale * VERTICAL_EXAGGERATION
        return Point(round(x, 1), round(y, 1))


def corridor_map(reference: CorridorReference, trucks: Sequence[TruckPosition]) -> CorridorMap:
    project = Projection(reference)
    where = {loc.code: project(loc.lat, loc.lon) for loc in reference.locations}
    places = tuple(
        Place(
            loc.code,
            loc.name,
            where[loc.code],
            loc.kind.value,
            "end" if where[loc.code].x > WIDTH * 0.75 else "start",
            LABELS[loc.code] * (15 if LABELS[loc.code] > 0 else 7) if loc.code in LABELS else None,
        )
        for loc in reference.locations
    )
    lines = tuple(
        Line(where[s.from_location], where[s.to_location], s.mode.value) for s in reference.segments
    )
    markers = []
    for truck in trucks:
        here = where.get(truck.location)
        if here is None:
            continue
        there = where.get(truck.next_location or "", here)
        markers.append(
            Truck(
                truck.consignment_id,
                Point((here.x + there.x) / 2, (here.y + there.y) / 2),
                truck.label,
            )
        )
    return CorridorMap(WIDTH, project.height, places, lines, tuple(markers))
