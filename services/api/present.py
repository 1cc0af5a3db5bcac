"""Read views (storage.views) mapped to the API's response schemas."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from urllib.parse import quote

import pydantic_core
from pydantic import TypeAdapter

from corridor.clearance import RECENT_WINDOW, ClearanceOutlook
from corridor.events import TransportMode
from corridor.model import StayStatus
from corridor.reference import Location
from services.api import schemas
from storage.views import (
    AlertView,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingPerformance,
    CrossingView,
    Granularity,
    LegPerformance,
    LegView,
    LocationPerformance,
    LocationQueueView,
    Percentiles,
    StayView,
    TimelineView,
)

_HOUR = 3600.0
_BUCKET = {
    Granularity.HOUR: timedelta(hours=1),
    Granularity.DAY: timedelta(days=1),
    Granularity.WEEK: timedelta(weeks=1),
}


def hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / _HOUR, 4)


def consignment_path(base: str, consignment_id: str) -> str:
    return f"{base}/v1/consignments/{quote(consignment_id, safe='')}"


def summary(view: ConsignmentView, base: str) -> schemas.ConsignmentSummary:
    return schemas.ConsignmentSummary(**_summary_fields(view, base))


def _summary_fields(view: ConsignmentView, base: str) -> dict[str, object]:
    refs = view.references
    path = consignment_path(base, view.consignment_id)
    return {
        "consignment_id": view.consignment_id,
        "carrier_id": view.carrier_id,
        "state": view.state,
        "current_location": view.current_location,
        "first_event_at": view.first_event_at,
        "last_event_at": view.last_event_at,
        "event_count": view.event_count,
        "route_id": view.route_id,
        "declared_route": list(view.declared_route),
        "references": schemas.References(
            tir_carnet=refs.tir_carnet,
            mrn=refs.mrn,
            permit_id=refs.permit_id,
            vehicle_plates=list(refs.vehicle_plates),
            container_numbers=list(refs.container_numbers),
        ),
        "anomaly_count": view.anomaly_count,
        "links": schemas.Links(self=path, timeline=f"{path}/timeline"),
    }


def status(
    view: ConsignmentStatusView,
    base: str,
    outlook: ClearanceOutlook | None = None,
    eta: schemas.ArrivalEstimate | None = None,
) -> schemas.ConsignmentStatus:
    def of(kind: StayStatus) -> list[schemas.Stay]:
        return [stay(s) for s in view.stays if s.status is kind]

    return schemas.ConsignmentStatus(
        **_summary_fields(view.consignment, base),
        completed_stays=of(StayStatus.COMPLETED),
        in_progress_stays=of(StayStatus.IN_PROGRESS),
        departure_missing_stays=of(StayStatus.DEPARTURE_MISSING),
        clearance=clearance(outlook) if outlook is not None else None,
        eta=eta,
    )


def clearance(outlook: ClearanceOutlook) -> schemas.ClearanceOutlook:
    waited = round(outlook.waited.total_seconds())
    return schemas.ClearanceOutlook(
        location=outlook.location,
        arrived_at=outlook.arrived_at,
        as_of=outlook.as_of,
        waited_seconds=waited,
        waited_hours=round(waited / _HOUR, 4),
        window_days=RECENT_WINDOW.days,
        recent_stays=outlook.recent_stays,
        comparable_stays=outlook.comparable_stays,
        expected_departure_at=outlook.expected_departure_at,
        likely_departure_by=outlook.likely_departure_by,
        longer_than_usual=outlook.longer_than_usual,
    )


def stay(view: StayView) -> schemas.Stay:
    return schemas.Stay.model_validate(
        {
            **{name: getattr(view, name) for name in _STAY_FIELDS},
            "dwell_hours": hours(view.dwell_seconds),
            "stages": schemas.StageDurations(
                arrival_to_release_seconds=view.arrival_to_release_seconds,
                release_to_departure_seconds=view.release_to_departure_seconds,
                inspection_seconds=view.inspection_seconds,
            ),
        }
    )


_STAY_FIELDS = (
    "location",
    "visit",
    "country",
    "mode",
    "direction",
    "status",
    "arrived_at",
    "released_at",
    "departed_at",
    "inspection_started_at",
    "inspection_completed_at",
    "dwell_seconds",
    "implausible",
)


def crossing(view: CrossingView) -> schemas.Crossing:
    return schemas.Crossing(
        border_id=view.border_id,
        from_location=view.from_location,
        to_location=view.to_location,
        direction=view.direction,
        mode=TransportMode(view.mode) if view.mode else None,
        arrived_at=view.arrived_at,
        departed_at=view.departed_at,
        tfi1_seconds=view.tfi1_seconds,
        tfi1_hours=hours(view.tfi1_seconds),
    )


def leg(view: LegView) -> schemas.Leg:
    return schemas.Leg(
        from_location=view.from_location,
        to_location=view.to_location,
        mode=TransportMode(view.mode),
        departed_at=view.departed_at,
        arrived_at=view.arrived_at,
        distance_km=view.distance_km,
        travel_seconds=view.travel_seconds,
        travel_hours=view.travel_seconds / _HOUR,
        origin_dwell_seconds=view.origin_dwell_seconds,
        swod_kmh=view.swod_kmh,
        swd_kmh=view.swd_kmh,
        implausible=view.implausible,
    )


def timeline(view: TimelineView, base: str) -> schemas.Timeline:
    return schemas.Timeline(
        consignment=summary(view.consignment, base),
        events=list(view.events),
        stays=[stay(s) for s in view.stays],
        crossings=[crossing(c) for c in view.crossings],
        legs=[leg(x) for x in view.legs],
    )


def location(loc: Location) -> schemas.Location:
    return schemas.Location(
        code=loc.code,
        name=loc.name,
        country=loc.country,
        kind=loc.kind,
        modes=list(loc.modes),
        lat=loc.lat,
        lon=loc.lon,
        counterparts=list(loc.counterparts),
        unlocode=loc.unlocode,
        timezone=loc.timezone,
        customs_offices=[
            schemas.CustomsOffice(
                reference_number=office.reference_number,
                name=office.name,
                illustrative=office.illustrative,
            )
            for office in loc.customs_offices
        ],
    )


def time_range(start: datetime, end: datetime) -> schemas.TimeRange:
    return schemas.TimeRange.model_validate({"from": start, "to": end})


def stats(
    count: int, mean: float | None, median: float | None, p90: float | None
) -> schemas.DurationStats:
    return schemas.DurationStats(
        count=count,
        mean_seconds=mean,
        median_seconds=median,
        p90_seconds=p90,
        mean_hours=hours(mean),
        median_hours=hours(median),
        p90_hours=hours(p90),
    )


def location_bucket(view: LocationPerformance, granularity: Granularity) -> schemas.LocationBucket:
    return schemas.LocationBucket(
        location=view.location,
        bucket_start=view.bucket,
        bucket_end=view.bucket + _BUCKET[granularity],
        stays_count=view.stays_count,
        completed_count=view.completed_count,
        in_progress_count=view.in_progress_count,
        excluded_count=view.excluded_count,
        dwell=stats(
            view.completed_count,
            view.dwell_mean_seconds,
            view.dwell_median_seconds,
            view.dwell_p90_seconds,
        ),
    )


# -- The location report as JSON bytes, without a model per bucket ------------------------
# A long range has a bucket per location and week or day: a model per bucket, validated and
# serialised, is a large share of that request (docs/api.md). These write the same document as
# schemas.LocationPerformanceReport from plain dicts (same fields in the same order, floats
# as floats, `Z` timestamps), serialised by pydantic-core as the models are, so the bytes
# are the same too (tests/unit/test_api_documents.py). The route keeps the model as its
# documented response.


def location_items_json(views: Sequence[LocationPerformance], granularity: Granularity) -> bytes:
    """The report's `items`: a JSON array of schemas.LocationBucket documents."""
    step = _BUCKET[granularity]
    spans: dict[datetime, tuple[str, str]] = {}  # the same few buckets recur per location
    items = []
    for view in views:
        span = spans.get(view.bucket)
        if span is None:
            span = spans[view.bucket] = (
                schemas.rfc3339(view.bucket),
                schemas.rfc3339(view.bucket + step),
            )
        # One loop, no helper calls: this runs per bucket (stats() and hours() inlined).
        mean, median, p90 = (
            view.dwell_mean_seconds,
            view.dwell_median_seconds,
            view.dwell_p90_seconds,
        )
        mean = None if mean is None else float(mean)
        median = None if median is None else float(median)
        p90 = None if p90 is None else float(p90)
        items.append(
            {
                "location": view.location,
                "bucket_start": span[0],
                "bucket_end": span[1],
                "stays_count": view.stays_count,
                "completed_count": view.completed_count,
                "in_progress_count": view.in_progress_count,
                "excluded_count": view.excluded_count,
                "dwell": {
                    "count": view.completed_count,
                    "mean_seconds": mean,
                    "median_seconds": median,
                    "p90_seconds": p90,
                    "mean_hours": None if mean is None else round(mean / _HOUR, 4),
                    "median_hours": None if median is None else round(median / _HOUR, 4),
                    "p90_hours": None if p90 is None else round(p90 / _HOUR, 4),
                },
            }
        )
    return pydantic_core.to_json(items)


def location_report_json(
    start: datetime,
    end: datetime,
    bucket: Granularity,
    percentiles: Percentiles,
    as_of: datetime | None,
    items_json: bytes,
    in_progress_now: Sequence[LocationQueueView],
) -> bytes:
    """schemas.LocationPerformanceReport as JSON around `items_json` (location_items_json)."""
    return b"".join(
        (
            b'{"range":',
            time_range(start, end).model_dump_json(by_alias=True).encode(),
            b',"bucket":',
            pydantic_core.to_json(bucket.value),
            b',"percentiles":',
            pydantic_core.to_json(percentiles.value),
            b',"as_of":',
            _AS_OF.dump_json(as_of),
            b',"items":',
            items_json,
            b',"in_progress_now":',
            _QUEUES.dump_json([queue(q) for q in in_progress_now]),
            b"}",
        )
    )


_QUEUES = TypeAdapter(list[schemas.LocationQueue])
_AS_OF: TypeAdapter[datetime | None] = TypeAdapter(schemas.UtcDatetime | None)


def queue(view: LocationQueueView) -> schemas.LocationQueue:
    return schemas.LocationQueue(
        location=view.location,
        in_progress_count=view.in_progress_count,
        oldest_arrived_at=view.oldest_arrived_at,
    )


def crossing_item(view: CrossingPerformance) -> schemas.CrossingPerformanceItem:
    return schemas.CrossingPerformanceItem(
        border_id=view.border_id,
        direction=view.direction,
        in_progress_count=view.in_progress_count,
        tfi1=stats(
            view.completed_count,
            view.tfi1_mean_seconds,
            view.tfi1_median_seconds,
            view.tfi1_p90_seconds,
        ),
    )


def leg_item(view: LegPerformance) -> schemas.LegPerformanceItem:
    return schemas.LegPerformanceItem(
        from_location=view.from_location,
        to_location=view.to_location,
        mode=TransportMode(view.mode),
        legs_count=view.legs_count,
        travel_median_seconds=view.travel_median_seconds,
        travel_median_hours=hours(view.travel_median_seconds),
        swod_median_kmh=view.swod_median_kmh,
        swd_median_kmh=view.swd_median_kmh,
        excluded_count=view.excluded_count,
    )


def alert(view: AlertView) -> schemas.Alert:
    return schemas.Alert(
        id=view.id,
        kind=view.kind,
        consignment_id=view.consignment_id,
        carrier_id=view.carrier_id,
        location=view.location,
        occurred_at=view.occurred_at,
        raised_at=view.raised_at,
        detail=view.detail,
        withdrawn_at=view.withdrawn_at,
    )
