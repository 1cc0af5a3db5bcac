"""Corridor reference data: locations, border pairs, segments and routes.

The data lives in `corridor/data/corridor.json`, versioned with the code. Loading
validates it whole; a broken file fails with a message naming the offending entry.
Which customs offices report for a location is separate data (`corridor.customs_offices`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from corridor.errors import ReferenceDataError
from corridor.events import LocationCode, TransportMode

CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
OfficeReference = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z0-9]{6}$")]
UnLocode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$")]


class LocationKind(StrEnum):
    ROAD_BCP = "road_bcp"
    RAIL_BORDER_STATION = "rail_border_station"
    SEA_PORT = "sea_port"


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomsOffice(_Frozen):
    reference_number: OfficeReference
    name: str = Field(min_length=1)
    illustrative: bool = Field(
        description="True when the number is a placeholder, not from a published office list."
    )


class Location(_Frozen):
    code: LocationCode
    name: str
    country: CountryCode
    kind: LocationKind
    modes: tuple[TransportMode, ...]
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    counterparts: tuple[LocationCode, ...] = ()
    unlocode: UnLocode | None = None
    aliases: tuple[str, ...] = ()
    timezone: str = Field(
        default="UTC", description="IANA zone, for messages that carry local times only."
    )
    customs_offices: tuple[CustomsOffice, ...] = Field(
        default=(), description="Customs offices that report for it (corridor.customs_offices)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class Border(_Frozen):
    """A border pair: the two control points facing each other across a border."""

    id: str
    locations: tuple[LocationCode, LocationCode]
    mode: TransportMode


class Segment(_Frozen):
    """Travel between two consecutive route nodes, with its distance for speed KPIs."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_location: LocationCode = Field(alias="from")
    to_location: LocationCode = Field(alias="to")
    km: float = Field(gt=0)
    mode: TransportMode


class Route(_Frozen):
    id: str
    name: str
    mode: TransportMode
    locations: tuple[LocationCode, ...] = Field(min_length=2)


class CorridorReference(_Frozen):
    version: str
    description: str = ""
    locations: tuple[Location, ...]
    borders: tuple[Border, ...]
    segments: tuple[Segment, ...]
    routes: tuple[Route, ...]

    @cached_property
    def locations_by_code(self) -> dict[str, Location]:
        return {location.code: location for location in self.locations}

    @cached_property
    def routes_by_id(self) -> dict[str, Route]:
        return {route.id: route for route in self.routes}

    @cached_property
    def borders_by_id(self) -> dict[str, Border]:
        return {border.id: border for border in self.borders}

    @cached_property
    def _location_by_office(self) -> dict[str, str]:
        return {
            office.reference_number: location.code
            for location in self.locations
            for office in location.customs_offices
        }

    def location_of_office(self, reference_number: str) -> str | None:
        """The location a customs office reports for, or None when it is not in the data."""
        return self._location_by_office.get(reference_number)

    @cached_property
    def _segments_by_pair(self) -> dict[tuple[str, str], Segment]:
        return {(s.from_location, s.to_location): s for s in self.segments}

    @cached_property
    def _borders_by_pair(self) -> dict[frozenset[str], Border]:
        return {frozenset(border.locations): border for border in self.borders}

    def location(self, code: str) -> Location:
        try:
            return self.locations_by_code[code]
        except KeyError:
            raise ReferenceDataError("location", f"unknown corridor location {code!r}") from None

    def has_location(self, code: str) -> bool:
        return code in self.locations_by_code

    def route(self, route_id: str) -> Route:
        try:
            return self.routes_by_id[route_id]
        except KeyError:
            raise ReferenceDataError("route_id", f"unknown route {route_id!r}") from None

    def segment(self, from_location: str, to_location: str) -> Segment | None:
        """The segment between two nodes, in either direction (distances are symmetric)."""
        pairs = self._segments_by_pair
        return pairs.get((from_location, to_location)) or pairs.get((to_location, from_location))

    def border_between(self, a: str, b: str) -> Border | None:
        return self._borders_by_pair.get(frozenset((a, b)))


def _check_integrity(ref: CorridorReference) -> list[str]:
    problems: list[str] = []
    codes = ref.locations_by_code

    def unique(kind: str, keys: Iterable[str]) -> None:
        seen: set[str] = set()
        for key in keys:
            if key in seen:
                problems.append(f"{kind} {key!r}: duplicate")
            seen.add(key)

    unique("location", (loc.code for loc in ref.locations))
    unique("border", (b.id for b in ref.borders))
    unique("route", (r.id for r in ref.routes))
    for loc in ref.locations:
        for other in loc.counterparts:
            if other not in codes:
                problems.append(f"location {loc.code!r}: counterpart {other!r} is not a location")
            elif loc.code not in codes[other].counterparts:
                problems.append(f"location {loc.code!r}: counterpart {other!r} is not named back")
    for border in ref.borders:
        a, b = border.locations
        for code in border.locations:
            if code not in codes:
                problems.append(f"border {border.id!r}: {code!r} is not a location")
        if a in codes and b in codes and b not in codes[a].counterparts:
            problems.append(f"border {border.id!r}: {a!r} and {b!r} are not counterparts")
    for seg in ref.segments:
        for code in (seg.from_location, seg.to_location):
            if code not in codes:
                problems.append(
                    f"segment {seg.from_location}->{seg.to_location}: {code!r} is not a location"
                )
    for route in ref.routes:
        for code in route.locations:
            if code not in codes:
                problems.append(f"route {route.id!r}: {code!r} is not a location")
        for a, b in zip(route.locations, route.locations[1:], strict=False):
            if ref.segment(a, b) is None:
                problems.append(f"route {route.id!r}: no segment between {a!r} and {b!r}")
    return problems


def parse_reference(raw: str | bytes) -> CorridorReference:
    """Parse and validate reference data; raise `ReferenceDataError` naming the entry."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ReferenceDataError("corridor.json", f"not valid JSON: {exc}") from exc
    try:
        ref = CorridorReference.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _describe_location(document, first["loc"])
        raise ReferenceDataError(where, first["msg"]) from exc
    problems = _check_integrity(ref)
    if problems:
        raise ReferenceDataError(problems[0].split(":")[0], "; ".join(problems))
    return ref


def _describe_location(document: object, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error path into 'locations[3] (KZ-AKTAU).lat' for humans."""
    parts: list[str] = []
    node = document
    for step in loc:
        if isinstance(step, int) and isinstance(node, list) and step < len(node):
            node = node[step]
            label = node.get("code") or node.get("id") if isinstance(node, dict) else None
            parts[-1] += f"[{step}]" + (f" ({label})" if label else "")
        else:
            parts.append(str(step))
            node = node.get(step) if isinstance(node, dict) and isinstance(step, str) else None
    return ".".join(parts)


def load_reference(path: Path | None = None) -> CorridorReference:
    """Load the reference data shipped with the package, or from `path`."""
    if path is not None:
        return parse_reference(path.read_bytes())
    raw = resources.files("corridor.data").joinpath("corridor.json").read_bytes()
    return parse_reference(raw)
