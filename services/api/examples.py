"""One small, consistent journey as read views, and the OpenAPI examples derived from it.

Examples go through the same mapping as real responses, so they always match the schemas.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from corridor.clearance import ClearanceOutlook
from corridor.events import EventType, References, Source, SourceSystem, TransitEvent
from corridor.model import ConsignmentState, StayStatus
from services.api import present
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
    ReferencesView,
    StayView,
    TimelineView,
)

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
CONSIGNMENT_ID = "MC-2026-000123"
CARRIER_ID = "carrier-kz-01"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def consignment_view(
    consignment_id: str = CONSIGNMENT_ID, carrier_id: str = CARRIER_ID
) -> ConsignmentView:
    return ConsignmentView(
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        state=ConsignmentState.AT_LOCATION,
        current_location="KZ-NUR-ZHOLY",
        first_event_at=at(0),
        last_event_at=at(26),
        event_count=4,
        route_id="road-nur-zholy-aktau-kapikule",
        declared_route=("CN-KHORGOS", "KZ-NUR-ZHOLY", "KZ-AKTAU"),
        references=ReferencesView(
            tir_carnet="XH12345678",
            mrn=None,
            permit_id=None,
            vehicle_plates=("123ABC02",),
            container_numbers=(),
        ),
        anomaly_count=0,
        updated_at=at(26),
    )


def stay_views(consignment_id: str = CONSIGNMENT_ID) -> tuple[StayView, ...]:
    done = StayView(
        consignment_id, "CN-KHORGOS", 1, "CN", "road", "outbound", StayStatus.COMPLETED,
        at(0), at(18), at(20), at(2), at(3), 20 * 3600, 18 * 3600, 2 * 3600, 3600,
    )  # fmt: skip
    open_stay = StayView(
        consignment_id, "KZ-NUR-ZHOLY", 1, "KZ", "road", "inbound", StayStatus.IN_PROGRESS,
        at(21), None, None, None, None, None, None, None, None,
    )  # fmt: skip
    return (done, open_stay)


def timeline_view(
    consignment_id: str = CONSIGNMENT_ID, carrier_id: str = CARRIER_ID
) -> TimelineView:
    arrived = TransitEvent(
        event_id=UUID("3f1c0e4e-8a43-4c36-9f6e-0d3c1c3f7a10"),
        event_type=EventType.GATE_ARRIVED,
        occurred_at=at(21),
        location="KZ-NUR-ZHOLY",
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        references=References(tir_carnet="XH12345678", vehicle_plates=("123ABC02",)),
        source=Source(system=SourceSystem.GATE, message_type="GATE_IN", message_id="NZ-88231"),
    )
    crossing = CrossingView(
        consignment_id, "khorgos-nur-zholy", "CN-KHORGOS", "KZ-NUR-ZHOLY", "CN->KZ", "road",
        at(0), None, None,
    )  # fmt: skip
    leg = LegView(
        consignment_id, "CN-KHORGOS", "KZ-NUR-ZHOLY", "road", at(20), at(21), 30.0, 3600,
        20 * 3600, 30.0, 30.0 / 21,
    )  # fmt: skip
    return TimelineView(
        consignment=consignment_view(consignment_id, carrier_id),
        events=(arrived,),
        stays=stay_views(consignment_id),
        crossings=(crossing,),
        legs=(leg,),
    )


def alert_view(carrier_id: str = CARRIER_ID, consignment_id: str = CONSIGNMENT_ID) -> AlertView:
    return AlertView(
        id=42,
        kind="overdue_stay",
        consignment_id=consignment_id,
        carrier_id=carrier_id,
        location="KZ-NUR-ZHOLY",
        occurred_at=at(21),
        raised_at=at(45),
        detail="at KZ-NUR-ZHOLY for 24 h, longer than its 95th percentile",
    )


LOCATION_PERFORMANCE = LocationPerformance(
    at(-6), "KZ-NUR-ZHOLY", 41, 38, 3, 15_840.0, 12_600.0, 30_240.0
)
CROSSING_PERFORMANCE = CrossingPerformance(
    "khorgos-nur-zholy", "CN->KZ", 120, 7, 93_600.0, 82_800.0, 151_200.0
)
LEG_PERFORMANCE = LegPerformance("KZ-NUR-ZHOLY", "KZ-AKTAU", "road", 96, 81_000.0, 53.5, 21.4)


def _json(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True)


_PERIOD = present.time_range(at(-6), at(-6) + timedelta(days=30))
# Five hours into the stay at KZ-NUR-ZHOLY; 140 of the 312 recent stays lasted longer.
OUTLOOK = ClearanceOutlook(
    location="KZ-NUR-ZHOLY",
    arrived_at=at(21),
    as_of=at(26),
    waited=timedelta(hours=5),
    recent_stays=312,
    comparable_stays=140,
    expected_departure_at=at(30),
    likely_departure_by=at(37),
    longer_than_usual=False,
)
STATUS = _json(present.status(ConsignmentStatusView(consignment_view(), stay_views()), "", OUTLOOK))
TIMELINE = _json(present.timeline(timeline_view(), ""))
CONSIGNMENT_PAGE = {
    "items": [_json(present.summary(consignment_view(), ""))],
    "next_cursor": "WyIyMDI2LTAzLTAzVDA4OjAwOjAwKzAwOjAwIiwgIk1DLTIwMjYtMDAwMTIzIl0",
    "links": {
        "next": "/v1/consignments?state=at_location&limit=1"
        "&cursor=WyIyMDI2LTAzLTAzVDA4OjAwOjAwKzAwOjAwIiwgIk1DLTIwMjYtMDAwMTIzIl0"
    },
}
LOCATION_REPORT = {
    "range": _json(_PERIOD),
    "bucket": "day",
    "percentiles": "exact",
    "items": [_json(present.location_bucket(LOCATION_PERFORMANCE, Granularity.DAY))],
    "in_progress_now": [_json(present.queue(LocationQueueView("KZ-NUR-ZHOLY", 3, at(21))))],
}
CROSSING_REPORT = {
    "range": _json(_PERIOD),
    "percentiles": "exact",
    "items": [_json(present.crossing_item(CROSSING_PERFORMANCE))],
}
LEG_REPORT = {
    "range": _json(_PERIOD),
    "percentiles": "exact",
    "items": [_json(present.leg_item(LEG_PERFORMANCE))],
}
ALERT_PAGE = {
    "items": [_json(present.alert(alert_view()))],
    "next_cursor": "eyJhZnRlciI6IDQyfQ",
    "links": {"next": "/v1/alerts?since=2026-03-01T00:00:00Z&limit=1&cursor=eyJhZnRlciI6IDQyfQ"},
}
