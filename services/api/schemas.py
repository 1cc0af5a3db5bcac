"""The API's response documents: pydantic schemas of their own, never table rows.

Durations are whole seconds, with hours beside them where people read them; every
timestamp is RFC 3339 in UTC (`2026-03-02T06:15:00Z`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from corridor.events import TransitEvent, TransportMode
from corridor.model import ConsignmentState, StayStatus
from corridor.reference import LocationKind
from storage.views import Granularity, Percentiles


def rfc3339(moment: datetime) -> str:
    """How every timestamp is written: RFC 3339 in UTC with a `Z`."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


UtcDatetime = Annotated[
    datetime,
    PlainSerializer(rfc3339, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time", "example": "2026-03-02T06:15:00Z"}),
]


class Schema(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Links(Schema):
    self: str = Field(examples=["/v1/consignments/MC-2026-000123"])
    timeline: str | None = Field(
        default=None, examples=["/v1/consignments/MC-2026-000123/timeline"]
    )


class PageLinks(Schema):
    next: str | None = Field(description="The next page, or null on the last one.")


class References(Schema):
    tir_carnet: str | None = Field(examples=["XH12345678"])
    mrn: str | None = Field(examples=["24KZ0001000012345X"])
    permit_id: str | None
    vehicle_plates: list[str] = Field(examples=[["123ABC02"]])
    container_numbers: list[str]


class StageDurations(Schema):
    """WCO Time Release Study stages of a stay, in seconds."""

    arrival_to_release_seconds: int | None
    release_to_departure_seconds: int | None
    inspection_seconds: int | None


class Stay(Schema):
    location: str = Field(examples=["KZ-NUR-ZHOLY"])
    visit: int = Field(ge=1, description="1 for the first visit to this location, 2 for a return")
    country: str = Field(examples=["KZ"])
    mode: TransportMode | None
    direction: str | None
    status: StayStatus
    arrived_at: UtcDatetime
    released_at: UtcDatetime | None
    departed_at: UtcDatetime | None
    inspection_started_at: UtcDatetime | None
    inspection_completed_at: UtcDatetime | None
    dwell_seconds: int | None = Field(description="Arrival to departure; null while open.")
    dwell_hours: float | None
    stages: StageDurations
    implausible: bool = Field(
        default=False,
        description="Voided by a plausibility rule (docs/domain.md, Plausibility): the "
        "timeline keeps it, KPIs leave it out.",
    )


class ConsignmentSummary(Schema):
    consignment_id: str = Field(examples=["MC-2026-000123"])
    carrier_id: str | None = Field(
        examples=["carrier-kz-01"],
        description="null while no message has named the carrier (only operators see it then)",
    )
    state: ConsignmentState
    current_location: str | None = Field(examples=["KZ-NUR-ZHOLY"])
    first_event_at: UtcDatetime
    last_event_at: UtcDatetime
    event_count: int
    route_id: str | None
    declared_route: list[str]
    references: References
    anomaly_count: int
    links: Links


class ClearanceOutlook(Schema):
    """When the open stay may end: among the location's recent completed stays that lasted
    longer than this one has waited so far, when half and nine in ten had ended."""

    location: str = Field(examples=["KZ-NUR-ZHOLY"])
    arrived_at: UtcDatetime
    as_of: UtcDatetime = Field(
        description="The instant the wait is measured to: the tracker's event-time clock, "
        "as its overdue alerts use (moments ago in live operation; the end of a replay)."
    )
    waited_seconds: int
    waited_hours: float
    window_days: int = Field(
        description="Recent stays are those that departed within this many days before as_of."
    )
    recent_stays: int = Field(description="Completed stays at the location in the window.")
    comparable_stays: int = Field(
        description="Those of them that lasted longer than this stay has waited."
    )
    expected_departure_at: UtcDatetime | None = Field(
        description="Half of the comparable stays had ended this long after their arrival. "
        "Null with fewer than 20 comparable stays."
    )
    likely_departure_by: UtcDatetime | None = Field(
        description="Nine in ten of the comparable stays had ended by then. Null likewise."
    )
    longer_than_usual: bool = Field(
        description="The wait exceeds the p90 of all recent stays (known from 20 of them)."
    )


class StopArrival(Schema):
    location: str = Field(examples=["AZ-ALAT"])
    arrival_p50: UtcDatetime = Field(description="Even odds of arriving before or after.")
    arrival_p90: UtcDatetime = Field(description="Nine in ten chances of arriving by then.")


class EtaPart(Schema):
    """One part of the journey ahead: a stay or a leg, and what its estimate rests on."""

    kind: str = Field(examples=["dwell"], description="`dwell` (a stay) or `travel` (a leg)")
    location: str = Field(description="Where the stay is, or where the leg starts.")
    to_location: str | None = Field(description="Where the leg ends; null for a stay.")
    samples: int = Field(description="Recent completed stays or legs of it, all carriers.")
    elapsed_seconds: int = Field(description="Already spent in it (the part under way).")


class ArrivalEstimate(Schema):
    """When the consignment is expected at its destination (`corridor/eta.py`)."""

    destination: str = Field(examples=["BG-KAPITAN-ANDREEVO"])
    as_of: UtcDatetime = Field(description="The tracker's event-time clock, as `clearance`.")
    window_start: UtcDatetime = Field(description="Statistics of stays and legs ended from…")
    window_end: UtcDatetime = Field(description="…until here.")
    arrival_p50: UtcDatetime | None = Field(description="Null when `reason` says why.")
    arrival_p90: UtcDatetime | None
    remaining_stops: list[StopArrival] = Field(description="Every stop ahead, destination last.")
    based_on: list[EtaPart]
    unavailable: str | None = Field(
        examples=[None],
        description="`not_started`, `arrived`, `off_route` or `too_few_samples`; null with "
        "an estimate.",
    )
    reason: str | None = Field(examples=[None], description="Why there is no estimate.")


class ConsignmentStatus(ConsignmentSummary):
    completed_stays: list[Stay]
    in_progress_stays: list[Stay]
    departure_missing_stays: list[Stay] = Field(
        description="Stays the consignment left without the location reporting a departure."
    )
    clearance: ClearanceOutlook | None = Field(
        default=None,
        description="For the latest open stay, when it may end; null when the consignment "
        "is not at a location.",
    )
    eta: ArrivalEstimate | None = Field(
        default=None,
        description="Expected arrival at the destination; null for a finished, rejected or "
        "cancelled consignment.",
    )


class Crossing(Schema):
    border_id: str
    from_location: str
    to_location: str
    direction: str = Field(examples=["CN->KZ"])
    mode: TransportMode | None
    arrived_at: UtcDatetime = Field(description="Arrival at the first side's control point.")
    departed_at: UtcDatetime | None = Field(description="Departure from the second side.")
    tfi1_seconds: int | None = Field(description="CPMM TFI1: time to clear the border.")
    tfi1_hours: float | None


class Leg(Schema):
    from_location: str
    to_location: str
    mode: TransportMode
    departed_at: UtcDatetime
    arrived_at: UtcDatetime
    distance_km: float | None
    travel_seconds: int
    travel_hours: float
    origin_dwell_seconds: int | None
    swod_kmh: float | None = Field(description="CPMM speed without delay.")
    swd_kmh: float | None = Field(description="CPMM speed with delay (the origin's dwell).")
    implausible: bool = Field(
        default=False,
        description="Voided by a plausibility rule (docs/domain.md, Plausibility): the "
        "timeline keeps it, KPIs leave it out.",
    )


class Timeline(Schema):
    consignment: ConsignmentSummary
    events: list[TransitEvent] = Field(description="In timeline order.")
    stays: list[Stay]
    crossings: list[Crossing]
    legs: list[Leg]


class ConsignmentPage(Schema):
    items: list[ConsignmentSummary]
    next_cursor: str | None
    links: PageLinks


class CustomsOffice(Schema):
    reference_number: str = Field(examples=["TR220200"])
    name: str
    illustrative: bool = Field(
        description="A placeholder number, not from a published customs office list."
    )


class Location(Schema):
    code: str = Field(examples=["KZ-NUR-ZHOLY"])
    name: str
    country: str
    kind: LocationKind
    modes: list[TransportMode]
    lat: float
    lon: float
    counterparts: list[str] = Field(description="The control points across the border.")
    unlocode: str | None
    timezone: str
    customs_offices: list[CustomsOffice] = Field(
        description="The customs offices that report for this location (reference data)."
    )


class LocationList(Schema):
    reference_version: str
    items: list[Location]


PERCENTILES_FIELD = Field(
    description="`exact`: median/p90 are the nearest rank over every value (percentile_disc). "
    "`sketch` (ranges longer than the exact limit, except weekly location buckets, which "
    "stay exact): the nearest rank of the daily rollups' merged quantile sketches, within "
    "1 % of exact (docs/api.md). Counts and means are always exact."
)
AS_OF_FIELD = Field(
    description="Complete as of this instant: the start of the last successful refresh of "
    "the rollups the answer was read from, or the time of the query when it was read from "
    "the base tables; null while the rollups were never refreshed."
)


class TimeRange(Schema):
    start: UtcDatetime = Field(alias="from")
    end: UtcDatetime = Field(alias="to", description="Exclusive.")


class DurationStats(Schema):
    """Statistics of completed durations: count and mean exact; median and p90 exact
    (nearest rank) or within 1 % (sketch), as the report's `percentiles` says."""

    count: int
    mean_seconds: float | None
    median_seconds: float | None
    p90_seconds: float | None
    mean_hours: float | None
    median_hours: float | None
    p90_hours: float | None


class LocationBucket(Schema):
    location: str
    bucket_start: UtcDatetime
    bucket_end: UtcDatetime
    stays_count: int = Field(description="Stays that arrived in the bucket.")
    completed_count: int
    in_progress_count: int = Field(description="Of those, still at the location.")
    excluded_count: int = Field(
        default=0,
        description="Of those, voided by a plausibility rule (docs/domain.md): not in "
        "completed_count nor in the dwell figures.",
    )
    dwell: DurationStats


class LocationQueue(Schema):
    location: str
    in_progress_count: int
    oldest_arrived_at: UtcDatetime


class LocationPerformanceReport(Schema):
    range: TimeRange
    bucket: Granularity
    percentiles: Percentiles = PERCENTILES_FIELD
    as_of: UtcDatetime | None = AS_OF_FIELD
    items: list[LocationBucket]
    in_progress_now: list[LocationQueue] = Field(description="Open stays per location, now.")


class CrossingPerformanceItem(Schema):
    border_id: str
    direction: str = Field(examples=["KZ->CN"])
    in_progress_count: int
    tfi1: DurationStats


class CrossingPerformanceReport(Schema):
    range: TimeRange
    percentiles: Percentiles = PERCENTILES_FIELD
    as_of: UtcDatetime | None = AS_OF_FIELD
    items: list[CrossingPerformanceItem]


class LegPerformanceItem(Schema):
    from_location: str
    to_location: str
    mode: TransportMode
    legs_count: int
    travel_median_seconds: float | None
    travel_median_hours: float | None
    swod_median_kmh: float | None
    swd_median_kmh: float | None
    excluded_count: int = Field(
        default=0,
        description="Legs voided by a plausibility rule (docs/domain.md), left out of "
        "legs_count and the figures.",
    )


class LegPerformanceReport(Schema):
    range: TimeRange
    percentiles: Percentiles = PERCENTILES_FIELD
    as_of: UtcDatetime | None = AS_OF_FIELD
    items: list[LegPerformanceItem]


class Alert(Schema):
    id: int
    kind: str = Field(examples=["overdue_stay"])
    consignment_id: str | None
    carrier_id: str | None
    location: str | None
    occurred_at: UtcDatetime
    raised_at: UtcDatetime
    detail: str
    withdrawn_at: UtcDatetime | None = Field(
        description="When a later event made the alert untrue (the missing arrival turned "
        "up, the overdue truck departed); null while it is open. It re-opens if the "
        "condition returns."
    )


class AlertPage(Schema):
    items: list[Alert]
    next_cursor: str | None
    links: PageLinks


class RollupHealth(Schema):
    rollup: str = Field(examples=["location_dwell_daily"])
    state: str = Field(description="`fresh`, `stale`, `failing` or `never_refreshed`.")
    as_of: UtcDatetime | None
    consecutive_failures: int
    last_error: str | None


class Status(Schema):
    status: str = Field(examples=["ok"])
    kpi_rollups: list[RollupHealth] | None = Field(
        default=None,
        description="/readyz: each KPI rollup's freshness; stale or failing rollups do not "
        "make the API unready (it answers, saying `as_of`), they show here and in /metrics.",
    )
