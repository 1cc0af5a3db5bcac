"""An in-memory `ApiReads`, for tests and local experiments (like httpx's MockTransport).

It answers from `TimelineView`s and `AlertView`s handed to it, with the same carrier
scoping, ordering and paging rules as `storage.queries.api.ApiQueries`. Its KPI
percentiles are always exact, whatever `percentiles` asks for (the data set is small).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime

from corridor.kpi import mean, median, p90
from corridor.model import StayStatus
from storage.rows import normalize_permit_id, normalize_reference
from storage.views import (
    AlertView,
    ConsignmentFilter,
    ConsignmentKey,
    ConsignmentStatusView,
    ConsignmentView,
    CrossingPerformance,
    Granularity,
    LegPerformance,
    LocationPerformance,
    LocationQueueView,
    Page,
    Percentiles,
    RollupStatus,
    TimelineView,
)


class InMemoryReads:
    def __init__(
        self, timelines: Iterable[TimelineView] = (), alerts: Iterable[AlertView] = ()
    ) -> None:
        self.timelines = {t.consignment.consignment_id: t for t in timelines}
        self.alert_views = sorted(alerts, key=lambda a: a.id)
        self.reachable = True
        self.calls: list[str] = []
        # What rollup_status answers; tests set it (never refreshed by default).
        self.rollups: tuple[RollupStatus, ...] = ()

    def _visible(self, consignment_id: str, carrier_id: str | None) -> TimelineView | None:
        found = self.timelines.get(consignment_id)
        if found is None or carrier_id not in (None, found.consignment.carrier_id):
            return None
        return found

    async def consignment_status(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> ConsignmentStatusView | None:
        self.calls.append("consignment_status")
        found = self._visible(consignment_id, carrier_id)
        return ConsignmentStatusView(found.consignment, found.stays) if found else None

    async def timeline(
        self, consignment_id: str, carrier_id: str | None = None
    ) -> TimelineView | None:
        self.calls.append("timeline")
        return self._visible(consignment_id, carrier_id)

    async def tracker_clock(self) -> datetime | None:
        self.calls.append("tracker_clock")
        return max((t.consignment.last_event_at for t in self.timelines.values()), default=None)

    async def recent_dwell_seconds(
        self, location: str, since: datetime, until: datetime
    ) -> list[int]:
        self.calls.append("recent_dwell_seconds")
        earliest_arrival = since - (until - since)  # as storage.queries.locations bounds it
        return [
            stay.dwell_seconds
            for t in self.timelines.values()
            for stay in t.stays
            if stay.location == location
            and stay.status is StayStatus.COMPLETED
            and stay.dwell_seconds is not None
            and stay.departed_at is not None
            and since <= stay.departed_at < until
            and earliest_arrival <= stay.arrived_at < until
        ]

    async def search_consignments(
        self,
        filters: ConsignmentFilter,
        carrier_id: str | None = None,
        limit: int = 50,
        after: ConsignmentKey | None = None,
    ) -> Page[ConsignmentView]:
        self.calls.append("search_consignments")
        found = [
            t.consignment
            for t in self.timelines.values()
            if carrier_id in (None, t.consignment.carrier_id) and _matches(t.consignment, filters)
        ]
        found.sort(key=lambda c: (c.last_event_at, c.consignment_id), reverse=True)
        if after is not None:
            found = [c for c in found if (c.last_event_at, c.consignment_id) < after]
        return Page(items=tuple(found[:limit]), has_more=len(found) > limit)

    async def locations_performance(
        self,
        start: datetime,
        end: datetime,
        granularity: Granularity,
        location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LocationPerformance, ...]:
        self.calls.append("locations_performance")
        groups = defaultdict(list)
        for t in self.timelines.values():
            for stay in t.stays:
                if start <= stay.arrived_at < end and location in (None, stay.location):
                    groups[(stay.location, _truncate(stay.arrived_at, granularity))].append(stay)
        out = []
        for (code, bucket), stays in sorted(groups.items()):
            dwell = [
                float(s.dwell_seconds)
                for s in stays
                if s.status is StayStatus.COMPLETED
                and s.dwell_seconds is not None
                and not s.implausible
            ]
            open_count = sum(1 for s in stays if s.status is StayStatus.IN_PROGRESS)
            out.append(
                LocationPerformance(
                    bucket,
                    code,
                    len(stays),
                    len(dwell),
                    open_count,
                    mean(dwell),
                    median(dwell),
                    p90(dwell),
                    sum(1 for s in stays if s.implausible),
                )
            )
        return tuple(out)

    async def location_queues(self, carrier_id: str | None = None) -> tuple[LocationQueueView, ...]:
        self.calls.append("location_queues")
        open_stays = defaultdict(list)
        for t in self.timelines.values():
            if carrier_id in (None, t.consignment.carrier_id):
                for s in t.stays:
                    if s.status is StayStatus.IN_PROGRESS:
                        open_stays[s.location].append(s.arrived_at)
        return tuple(
            LocationQueueView(code, len(times), min(times))
            for code, times in sorted(open_stays.items())
        )

    async def crossing_performance(
        self,
        start: datetime,
        end: datetime,
        border_id: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[CrossingPerformance, ...]:
        self.calls.append("crossing_performance")
        groups = defaultdict(list)
        for t in self.timelines.values():
            for c in t.crossings:
                if start <= c.arrived_at < end and border_id in (None, c.border_id):
                    groups[(c.border_id, c.direction)].append(c.tfi1_seconds)
        out = []
        for (border, direction), times in sorted(groups.items()):
            done = [float(x) for x in times if x is not None]
            out.append(
                CrossingPerformance(
                    border,
                    direction,
                    len(done),
                    len(times) - len(done),
                    mean(done),
                    median(done),
                    p90(done),
                )
            )
        return tuple(out)

    async def leg_performance(
        self,
        start: datetime,
        end: datetime,
        from_location: str | None = None,
        to_location: str | None = None,
        percentiles: Percentiles = Percentiles.EXACT,
    ) -> tuple[LegPerformance, ...]:
        self.calls.append("leg_performance")
        groups = defaultdict(list)
        excluded: Counter[tuple[str, str, str]] = Counter()
        for t in self.timelines.values():
            for leg in t.legs:
                if (
                    start <= leg.departed_at < end
                    and from_location in (None, leg.from_location)
                    and to_location in (None, leg.to_location)
                ):
                    key = (leg.from_location, leg.to_location, leg.mode)
                    if leg.implausible:
                        excluded[key] += 1
                    else:
                        groups[key].append(leg)
        keys = sorted(set(groups) | set(excluded))
        return tuple(
            LegPerformance(
                origin,
                destination,
                mode,
                len(groups[(origin, destination, mode)]),
                median([float(x.travel_seconds) for x in groups[(origin, destination, mode)]]),
                median([x.swod_kmh for x in groups[(origin, destination, mode)] if x.swod_kmh]),
                median([x.swd_kmh for x in groups[(origin, destination, mode)] if x.swd_kmh]),
                excluded[(origin, destination, mode)],
            )
            for origin, destination, mode in keys
        )

    async def rollup_status(self) -> tuple[RollupStatus, ...]:
        self.calls.append("rollup_status")
        return self.rollups

    async def alerts(
        self,
        since: datetime,
        location: str | None = None,
        kind: str | None = None,
        carrier_id: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
        is_open: bool | None = None,
    ) -> tuple[AlertView, ...]:
        self.calls.append("alerts")
        return tuple(
            a
            for a in self.alert_views
            if a.raised_at >= since
            and location in (None, a.location)
            and kind in (None, a.kind)
            and carrier_id in (None, a.carrier_id)
            and (after_id is None or a.id > after_id)
            and is_open in (None, a.withdrawn_at is None)
        )[:limit]

    async def ping(self, timeout: float = 2.0) -> bool:  # noqa: ASYNC109
        return self.reachable


def _matches(c: ConsignmentView, f: ConsignmentFilter) -> bool:
    refs = c.references

    def same(wanted: str | None, actual: str | None, normalize: Callable[[str], str]) -> bool:
        return wanted is None or normalize(wanted) == actual

    def among(wanted: str | None, actual: tuple[str, ...]) -> bool:
        return wanted is None or normalize_reference(wanted) in actual

    return (
        same(f.tir_carnet, refs.tir_carnet, normalize_reference)
        and same(f.mrn, refs.mrn, normalize_reference)
        # As the database does: permit ids keep their dashes.
        and same(f.permit_id, refs.permit_id, normalize_permit_id)
        and among(f.vehicle_plate, refs.vehicle_plates)
        and among(f.container, refs.container_numbers)
        and (f.state is None or c.state is f.state)
        and (f.location is None or c.current_location == f.location)
        and (f.last_event_before is None or c.last_event_at < f.last_event_before)
    )


def _truncate(moment: datetime, granularity: Granularity) -> datetime:
    day = moment.replace(minute=0, second=0, microsecond=0)
    if granularity is Granularity.HOUR:
        return day
    day = day.replace(hour=0)
    if granularity is Granularity.DAY:
        return day
    return day.fromordinal(day.toordinal() - day.weekday()).replace(tzinfo=moment.tzinfo)
