"""The tracker's batch use case, with in-memory fakes for the table, database and topics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.alerts import Alert
from corridor.events import EventType, TransitEvent
from corridor.folding import FoldedEvents, fold_events
from corridor.model import ConsignmentState, StayStatus, Timeline
from corridor.timeline import build_timeline
from services.tracker.batch_tracker import BatchTracker
from services.tracker.history_cache import EVENT_BYTES, RecentHistories, held_bytes
from storage.progress import Partition, PartitionProgress
from storage.rows import TimelineRows, timeline_rows
from tests.unit.factories import T0, declared, event, khorgos_to_aktau, reference, visit


class FakeHistory:
    def __init__(self) -> None:
        self.events: dict[str, FoldedEvents] = {}
        self.stored: dict[str, TimelineRows] = {}

    def get(self, consignment_id: str) -> FoldedEvents | None:
        return self.events.get(consignment_id)

    def stored_rows(self, consignment_id: str) -> TimelineRows | None:
        return self.stored.get(consignment_id)

    def put(self, consignment_id: str, folded: FoldedEvents, stored: TimelineRows) -> None:
        self.events[consignment_id] = folded
        self.stored[consignment_id] = stored

    def forget(self, consignment_id: str) -> None:
        self.events.pop(consignment_id, None)
        self.stored.pop(consignment_id, None)


class FakeStates:
    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def record(self, timeline: Timeline) -> None:
        self.states[timeline.consignment_id] = timeline.state.value

    def remove(self, consignment_id: str) -> None:
        self.states.pop(consignment_id, None)


class FakeStore:
    """Keeps what a database would: every raw event, the latest timeline per consignment."""

    def __init__(self) -> None:
        self.raw: dict[str, list[TransitEvent]] = {}
        self.timelines: dict[str, Timeline] = {}
        self.alerts: dict[str, Alert] = {}
        self.fail_next = False
        self.writes = 0
        self.progress: dict[Partition, PartitionProgress] = {}

    async def load_events(self, consignment_ids: Sequence[str]) -> dict[str, list[TransitEvent]]:
        return {cid: list(self.raw[cid]) for cid in consignment_ids if cid in self.raw}

    async def write_batch(
        self,
        events: Sequence[TransitEvent],
        timelines: Sequence[Timeline],
        alerts: Sequence[Alert],
        stored: Mapping[str, TimelineRows],
        progress: Mapping[Partition, PartitionProgress],
    ) -> Mapping[str, TimelineRows]:
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("database went away")
        for e in events:
            known = self.raw.setdefault(e.consignment_id, [])
            if not any(
                (k.event_id, k.fingerprint()) == (e.event_id, e.fingerprint()) for k in known
            ):
                known.append(e)
        for cid, before in stored.items():  # the caller's idea of the rows must be right
            assert timeline_rows(self.timelines[cid], reference()) == before
        self.timelines.update({t.consignment_id: t for t in timelines})
        self.alerts.update({a.dedup_key: a for a in alerts})
        for partition, done in progress.items():
            self.progress[partition] = max(done, self.progress.get(partition, done))
        self.writes += 1
        return {t.consignment_id: timeline_rows(t, reference()) for t in timelines}


class FakeTopics:
    def __init__(self) -> None:
        self.updates: list[str] = []

    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None:
        self.updates.extend(t.consignment_id for t in timelines)


def _tracker() -> tuple[BatchTracker[TimelineRows], FakeHistory, FakeStore, FakeTopics]:
    history, store, topics = FakeHistory(), FakeStore(), FakeTopics()
    return BatchTracker(reference(), history, FakeStates(), store, topics), history, store, topics


def _completed_journey(consignment_id: str = "CONS-0001") -> list[TransitEvent]:
    route = "road-nur-zholy-aktau-poti"
    stops = [
        "CN-KHORGOS",
        "KZ-NUR-ZHOLY",
        "KZ-AKTAU",
        "AZ-ALAT",
        "AZ-RED-BRIDGE",
        "GE-RED-BRIDGE",
        "GE-POTI",
    ]
    events = [*declared(route)]
    for i, location in enumerate(stops):
        events += visit(location, i * 30, i * 30 + 10)
    return [e.model_copy(update={"consignment_id": consignment_id}) for e in events]


async def test_batches_build_one_timeline_per_consignment() -> None:
    tracker, _history, store, topics = _tracker()
    other = [e.model_copy(update={"consignment_id": "CONS-0002"}) for e in khorgos_to_aktau()]
    await tracker.track([*khorgos_to_aktau()[:6], *other])
    await tracker.track(khorgos_to_aktau()[6:])
    mine = store.timelines["CONS-0001"]
    assert mine.state is ConsignmentState.AT_LOCATION
    assert mine.current_location == "KZ-AKTAU"
    assert [s.location for s in mine.stays] == ["CN-KHORGOS", "KZ-NUR-ZHOLY", "KZ-AKTAU"]
    assert store.timelines["CONS-0002"].stays == tuple(
        replace(stay, consignment_id="CONS-0002") for stay in mine.stays
    )
    assert topics.updates.count("CONS-0001") == 2


async def test_replaying_a_batch_changes_nothing() -> None:
    tracker, _, store, _ = _tracker()
    events = khorgos_to_aktau()
    await tracker.track(events)
    first = store.timelines["CONS-0001"]
    await tracker.track(events)
    assert store.timelines["CONS-0001"] == first


async def test_a_batch_of_only_resends_rebuilds_and_announces_nothing() -> None:
    tracker, _, store, topics = _tracker()
    events = khorgos_to_aktau()
    await tracker.track(events)
    announced = list(topics.updates)

    assert await tracker.track(list(reversed(events[3:]))) == []
    assert topics.updates == announced
    assert store.timelines["CONS-0001"].current_location == "KZ-AKTAU"


async def test_completed_consignments_leave_the_table_and_late_events_still_count() -> None:
    tracker, history, store, _ = _tracker()
    journey = _completed_journey()
    late_arrival = next(
        e for e in journey if e.event_type is EventType.GATE_ARRIVED and e.location == "KZ-AKTAU"
    )
    await tracker.track([e for e in journey if e is not late_arrival])
    assert store.timelines["CONS-0001"].state is ConsignmentState.COMPLETED
    assert "CONS-0001" not in tracker._states.states  # type: ignore[attr-defined]
    before = {s.location: s for s in store.timelines["CONS-0001"].stays}
    assert "KZ-AKTAU" not in before  # its departure alone opened no stay

    history.forget("CONS-0001")  # aged out of the cache: the late event reloads it
    await tracker.track([late_arrival])
    after = {s.location: s for s in store.timelines["CONS-0001"].stays}
    assert after["KZ-AKTAU"].status is StayStatus.COMPLETED
    assert after["KZ-AKTAU"].dwell_seconds == 10 * 3600


async def test_a_failed_write_leaves_no_trace_and_the_retry_converges() -> None:
    tracker, history, store, _ = _tracker()
    events = khorgos_to_aktau()
    store.fail_next = True
    with pytest.raises(ConnectionError):
        await tracker.track(events)
    assert history.events == {}
    assert store.timelines == {}
    await tracker.track(events)
    assert store.timelines["CONS-0001"].current_location == "KZ-AKTAU"


async def test_conflicting_duplicates_raise_one_alert() -> None:
    tracker, _, store, _ = _tracker()
    seal_check = event(EventType.SEALS_CHECKED, "KZ-NUR-ZHOLY", 22, seals=("S1",))
    conflicting = seal_check.model_copy(
        update={"attributes": seal_check.attributes.model_copy(update={"seals": ("S2",)})}
    )
    await tracker.track([*khorgos_to_aktau(), seal_check])
    await tracker.track([conflicting])
    await tracker.track([conflicting])
    kinds = sorted(a.kind.value for a in store.alerts.values())
    assert kinds.count("conflicting_duplicate") == 1


async def test_a_restarted_worker_rebuilds_histories_from_the_database() -> None:
    tracker, _, store, _ = _tracker()
    events = khorgos_to_aktau()
    await tracker.track(events[:8])
    restarted = BatchTracker(reference(), FakeHistory(), FakeStates(), store, FakeTopics())
    await restarted.track(events[8:])
    assert store.timelines["CONS-0001"].current_location == "KZ-AKTAU"
    assert [s.location for s in store.timelines["CONS-0001"].stays] == [
        "CN-KHORGOS",
        "KZ-NUR-ZHOLY",
        "KZ-AKTAU",
    ]


def test_recent_histories_hold_at_most_so_many_bytes_most_recently_used_first() -> None:
    journey = khorgos_to_aktau()
    one, two, three = (
        fold_events(None, part) for part in (journey[:2], journey[2:4], journey[4:7])
    )
    rows = timeline_rows(one.timeline(reference()), reference())
    histories = RecentHistories(max_bytes=held_bytes(one, rows) * 2 + EVENT_BYTES)
    histories.put("a", one, rows)
    histories.put("b", two, rows)
    assert histories.get("a") is one  # touching "a" makes "b" the oldest
    histories.put("c", three, rows)  # one event more than "b": over the cap, "b" goes
    assert histories.get("b") is None
    assert histories.get("a") is one
    assert histories.get("c") is three
    assert histories.bytes_held == held_bytes(one, rows) + held_bytes(three, rows)

    grown = fold_events(one, journey[2:4])
    histories.put("a", grown, rows)  # a grown history replaces the old one
    assert histories.get("c") is None  # "c", now the oldest, went
    assert histories.bytes_held == held_bytes(grown, rows)
    histories.forget("a")
    assert histories.bytes_held == 0


@settings(max_examples=40, deadline=None)
@given(st.data())
async def test_batches_with_a_small_cache_give_the_timelines_of_a_rebuild(
    data: st.DataObject,
) -> None:
    journeys = [
        [e.model_copy(update={"consignment_id": f"CONS-{n}"}) for e in khorgos_to_aktau()]
        for n in range(3)
    ]
    pool = [e for journey in journeys for e in journey]
    arrivals = data.draw(st.permutations(pool + data.draw(st.lists(st.sampled_from(pool)))))
    rows = timeline_rows(build_timeline(journeys[0], reference()), reference())
    room = data.draw(st.integers(0, 3 * held_bytes(fold_events(None, journeys[0]), rows)))
    store = FakeStore()
    tracker = BatchTracker(reference(), RecentHistories(room), FakeStates(), store, FakeTopics())
    size = data.draw(st.integers(1, 12))
    for start in range(0, len(arrivals), size):
        await tracker.track(arrivals[start : start + size])
    for journey in journeys:
        expected = build_timeline(journey, reference())
        assert store.timelines[journey[0].consignment_id] == expected


async def test_partition_progress_is_stored_with_the_batch_and_only_then() -> None:
    tracker, _history, store, _topics = _tracker()
    events = khorgos_to_aktau()
    read = {
        ("transit-events", 0): PartitionProgress(events[3].occurred_at, 4),
        ("transit-events", 4): PartitionProgress(T0, 1),
    }
    store.fail_next = True
    with pytest.raises(ConnectionError):
        await tracker.track(events[:4], read)
    assert store.progress == {}  # a failed batch moves no clock

    await tracker.track(events[:4], read)

    assert store.progress == read
