"""Rows: what the write repository stores, one NamedTuple or dataclass per table row.

Timeline and event values are flattened into them by pure functions, no SQL: the
writer takes these rows; tests check them in milliseconds. (Read queries return views,
``storage.views``.)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple
from uuid import UUID

from corridor.events import CARRIER_NOT_NAMED, TransitEvent
from corridor.model import Stay, Timeline
from corridor.reference import CorridorReference
from storage.views import ApiKeyRole

_SEPARATORS = re.compile(r"[\s\-]+")
_occurred_at = attrgetter("occurred_at")


# Cached: every timeline rebuild normalizes the same few identifiers again.
@lru_cache(maxsize=65_536)
def normalize_reference(value: str) -> str:
    """One spelling per identifier: upper case, no spaces or dashes ("01 abc-123" → "01ABC123")."""
    return _SEPARATORS.sub("", value).upper()


@lru_cache(maxsize=16_384)
def normalize_permit_id(value: str) -> str:
    """e-Permit ids keep their dashes: they separate issuer, country, year, type and serial."""
    return re.sub(r"\s+", "", value).upper()


class EventRow(NamedTuple):
    event_id: UUID
    occurred_at: datetime
    event_type: str
    location: str
    consignment_id: str
    carrier_id: str
    source_system: str
    fingerprint: str
    payload: str  # canonical JSON of the whole event


class ConsignmentRow(NamedTuple):
    consignment_id: str
    carrier_id: str | None  # NULL: no message has named one yet
    state: str
    current_location: str | None
    first_event_at: datetime
    last_event_at: datetime
    event_count: int
    route_id: str | None
    declared_route: list[str]
    tir_carnet: str | None
    mrn: str | None
    permit_id: str | None
    vehicle_plates: list[str]
    container_numbers: list[str]
    anomaly_count: int

    @property
    def version(self) -> tuple[int, datetime]:
        """A timeline built from more events is newer (the event set only grows)."""
        return (self.event_count, self.last_event_at)


class StayRow(NamedTuple):
    consignment_id: str
    location: str
    visit: int
    carrier_id: str
    country: str
    mode: str | None
    direction: str | None
    status: str
    arrived_at: datetime
    released_at: datetime | None
    departed_at: datetime | None
    inspection_started_at: datetime | None
    inspection_completed_at: datetime | None
    dwell_seconds: int | None
    arrival_to_release_seconds: int | None
    release_to_departure_seconds: int | None
    inspection_seconds: int | None
    implausible: bool = False  # voided by a plausibility rule: left out of KPIs


class CrossingRow(NamedTuple):
    consignment_id: str
    carrier_id: str
    border_id: str
    from_location: str
    to_location: str
    direction: str
    mode: str | None
    status: str
    arrived_at: datetime
    departed_at: datetime | None
    tfi1_seconds: int | None


class LegRow(NamedTuple):
    consignment_id: str
    carrier_id: str
    from_location: str
    to_location: str
    mode: str
    departed_at: datetime
    arrived_at: datetime
    distance_km: float | None
    travel_seconds: int
    origin_dwell_seconds: int | None
    swod_kmh: float | None
    swd_kmh: float | None
    implausible: bool = False  # voided by a plausibility rule: left out of KPIs


class TimelineRows(NamedTuple):
    consignment: ConsignmentRow
    stays: list[StayRow]
    crossings: list[CrossingRow]
    legs: list[LegRow]


@dataclass(frozen=True, slots=True)
class AlertRow:
    """An alert to raise once: a second one with the same ``dedup_key`` is ignored."""

    kind: str
    occurred_at: datetime
    raised_at: datetime
    consignment_id: str | None = None
    carrier_id: str | None = None
    location: str | None = None
    detail: str = ""
    dedup_key: str = field(default="")

    @property
    def key(self) -> str:
        if self.dedup_key:
            return self.dedup_key
        parts = (self.kind, self.consignment_id or "", self.location or "")
        return "|".join((*parts, self.occurred_at.isoformat()))


@dataclass(frozen=True, slots=True)
class ApiKeyRow:
    name: str
    role: ApiKeyRole
    prefix: str
    key_hash: str
    allowed_locations: tuple[str, ...] | None = None
    carrier_id: str | None = None


def event_row(event: TransitEvent) -> EventRow:
    return EventRow(
        event_id=event.event_id,
        occurred_at=event.occurred_at,
        event_type=event.event_type.value,
        location=event.location,
        consignment_id=event.consignment_id,
        carrier_id=event.carrier_id,
        source_system=event.source.system.value,
        fingerprint=event.fingerprint(),
        payload=event.canonical_json(),
    )


def derived_rows_carrier(timeline: Timeline) -> str:
    """The carrier_id of a consignment's stays, crossings and legs: its carrier, else the
    wire value `not-named`, which no carrier key can hold. Unlike `consignments`, these
    columns stay NOT NULL: stays and crossings are compressed hypertables on TimescaleDB,
    where dropping NOT NULL needs 2.18 or later (docs/storage.md)."""
    return timeline.carrier_id or CARRIER_NOT_NAMED


def timeline_rows(timeline: Timeline, reference: CorridorReference | None = None) -> TimelineRows:
    events_at: dict[str, list[TransitEvent]] = {}
    for event in timeline.events:
        events_at.setdefault(event.location, []).append(event)
    return TimelineRows(
        consignment=_consignment_row(timeline, reference),
        stays=[
            _stay_row(
                timeline,
                stay,
                events_at.get(stay.location, []),
                reference,
                implausible=index in timeline.implausible_stays,
            )
            for index, stay in enumerate(timeline.stays)
        ],
        crossings=[
            CrossingRow(
                consignment_id=c.consignment_id,
                carrier_id=derived_rows_carrier(timeline),
                border_id=c.border_id,
                from_location=c.from_location,
                to_location=c.to_location,
                direction=c.direction,
                mode=_border_mode(c.border_id, reference),
                status="in_progress" if c.departed_at is None else "completed",
                arrived_at=c.arrived_at,
                departed_at=c.departed_at,
                tfi1_seconds=c.tfi1_seconds,
            )
            for c in timeline.crossings
        ],
        legs=[
            LegRow(
                consignment_id=leg.consignment_id,
                carrier_id=derived_rows_carrier(timeline),
                from_location=leg.from_location,
                to_location=leg.to_location,
                mode=leg.mode.value,
                departed_at=leg.departed_at,
                arrived_at=leg.arrived_at,
                distance_km=leg.distance_km,
                travel_seconds=leg.travel_seconds,
                origin_dwell_seconds=leg.origin_dwell_seconds,
                swod_kmh=leg.speed_without_delay_kmh,
                swd_kmh=leg.speed_with_delay_kmh,
                implausible=index in timeline.implausible_legs,
            )
            for index, leg in enumerate(timeline.legs)
        ],
    )


def _consignment_row(timeline: Timeline, reference: CorridorReference | None) -> ConsignmentRow:
    route = None
    if timeline.route_id is not None and reference is not None:
        route = reference.routes_by_id.get(timeline.route_id)
    # One pass in timeline order (`build_timeline` sorts its events): the latest value of
    # each single reference wins, plates and containers accumulate.
    tir_carnet = mrn = permit_id = None
    plates: set[str] = set()
    containers: set[str] = set()
    # Read for every event at every batch that touches the consignment: plain attribute
    # tests before any call, as most events repeat or lack most references.
    for event in timeline.events:
        refs = event.references
        if refs.tir_carnet:
            tir_carnet = refs.tir_carnet
        if refs.mrn:
            mrn = refs.mrn
        if refs.permit_id:
            permit_id = refs.permit_id
        if refs.vehicle_plates:
            plates.update(refs.vehicle_plates)
        if refs.container_numbers:
            containers.update(refs.container_numbers)
    return ConsignmentRow(
        consignment_id=timeline.consignment_id,
        carrier_id=timeline.carrier_id,
        state=timeline.state.value,
        current_location=timeline.current_location,
        first_event_at=min(map(_occurred_at, timeline.events), default=timeline.last_event_at),
        last_event_at=timeline.last_event_at,
        event_count=len(timeline.events),
        route_id=timeline.route_id,
        declared_route=list(route.locations) if route is not None else [],
        tir_carnet=normalize_reference(tir_carnet) if tir_carnet else None,
        mrn=normalize_reference(mrn) if mrn else None,
        permit_id=normalize_permit_id(permit_id) if permit_id else None,
        vehicle_plates=sorted({normalize_reference(plate) for plate in plates}),
        container_numbers=sorted({normalize_reference(number) for number in containers}),
        anomaly_count=len(timeline.anomalies),
    )


def _stay_row(
    timeline: Timeline,
    stay: Stay,
    events_here: Sequence[TransitEvent],
    reference: CorridorReference | None,
    implausible: bool = False,
) -> StayRow:
    during = [
        event
        for event in events_here
        if stay.arrived_at <= event.occurred_at
        and (stay.departed_at is None or event.occurred_at <= stay.departed_at)
    ]
    mode = next((e.attributes.mode.value for e in during if e.attributes.mode), None)
    if mode is None:
        mode = _mode_from_legs(timeline, stay) or _only_mode(stay.location, reference)
    direction = next((e.attributes.direction.value for e in during if e.attributes.direction), None)
    return StayRow(
        consignment_id=stay.consignment_id,
        location=stay.location,
        visit=stay.visit,
        carrier_id=derived_rows_carrier(timeline),
        country=_country(stay.location, reference),
        mode=mode,
        direction=direction,
        status=stay.status.value,
        arrived_at=stay.arrived_at,
        released_at=stay.released_at,
        departed_at=stay.departed_at,
        inspection_started_at=stay.inspection_started_at,
        inspection_completed_at=stay.inspection_completed_at,
        dwell_seconds=stay.dwell_seconds,
        arrival_to_release_seconds=stay.arrival_to_release_seconds,
        release_to_departure_seconds=stay.release_to_departure_seconds,
        inspection_seconds=stay.inspection_seconds,
        implausible=implausible,
    )


def _mode_from_legs(timeline: Timeline, stay: Stay) -> str | None:
    for leg in timeline.legs:
        arriving = leg.to_location == stay.location and leg.arrived_at == stay.arrived_at
        leaving = leg.from_location == stay.location and leg.departed_at == stay.departed_at
        if arriving or leaving:
            return leg.mode.value
    return None


def _only_mode(location: str, reference: CorridorReference | None) -> str | None:
    known = reference.locations_by_code.get(location) if reference is not None else None
    return known.modes[0].value if known is not None and len(known.modes) == 1 else None


def _country(location: str, reference: CorridorReference | None) -> str:
    # Location codes start with the ISO country code; the reference data is authoritative.
    known = reference.locations_by_code.get(location) if reference is not None else None
    return known.country if known is not None else location[:2]


def _border_mode(border_id: str, reference: CorridorReference | None) -> str | None:
    if reference is None:
        return None
    border = reference.borders_by_id.get(border_id)
    return border.mode.value if border is not None else None


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A webhook delivery to enqueue once (by `dedup_key`)."""

    id: str
    endpoint_id: UUID
    consignment_id: str
    event_type: str
    dedup_key: str
    body: str
