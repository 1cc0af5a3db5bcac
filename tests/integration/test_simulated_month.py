"""A simulated month of every journey kind, both directions and misbehaving sources,
through Kafka, real tracker workers and PostgreSQL, judged against the simulator's truth.

The delivery faults here keep each consignment's events in timeline order (re-sends,
a re-sent day, conflicting versions, dropped departures, a skewed gate clock, a gate
silent about arrivals), so every alert the tracker raises is one the final timeline
holds and the alerts can be compared exactly; the KPI rollups count what the truth says,
less the legs it voids. Faults that reorder a consignment's
events are judged on timelines and states by tests/integration/test_tracker_pipeline.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from corridor.alerts import AlertKind
from simulator import FaultRates, GroundTruth, SimulationConfig, simulate
from simulator.config import ClockSkew, JourneyKind, JourneyMix, SilentArrivals
from simulator.truth import expected_alerts
from storage.kpi_refresh import refresh_kpi_views
from tests.integration.tracker_harness import (
    TrackerWorkers,
    first_difference,
    produce,
    truth_snapshot,
    wait_until_converged,
)

CONFIG = SimulationConfig(
    seed=27,
    consignments=160,
    days=30,
    journeys=JourneyMix(**{k.value: 0.06 for k in JourneyKind if k is not JourneyKind.REGULAR}),
    faults=FaultRates(
        duplicate=0.04,
        missing_departure=0.02,
        conflicting_duplicate=0.03,
        replayed_day=9,
        clock_skew=ClockSkew(location="GE-RED-BRIDGE", seconds=-2 * 3600),
        silent_arrivals=SilentArrivals(location="GE-SARPI", day=12),
    ),
)
# Raised by the tracker's own clock and its storage, not derived from the events.
NOT_FROM_EVENTS = {AlertKind.OVERDUE_STAY.value, AlertKind.DEAD_LETTER.value}


async def _assert_kpis_count_what_the_truth_says(
    database_url: str, truth: GroundTruth, voided_legs: int
) -> None:
    """The rollups count every plausible leg and completed stay, and what they left out."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await refresh_kpi_views(conn)
    legs = sum(len(c.legs) for c in truth.consignments.values())
    completed = sum(
        1 for c in truth.consignments.values() for s in c.stays if s.status.value == "completed"
    )
    with psycopg.connect(database_url) as conn:
        leg_counts = conn.execute(
            "SELECT sum(legs_count), sum(excluded_count) FROM leg_time_daily"
        ).fetchone()
        stay_counts = conn.execute(
            "SELECT sum(completed_count), sum(excluded_count) FROM location_dwell_daily"
        ).fetchone()
    assert leg_counts == (legs - voided_legs, voided_legs)
    assert stay_counts == (completed, 0)


@pytest.fixture
def workers(
    kafka_bootstrap: str, topic_prefix: str, fresh_database_url: str, tmp_path: Path
) -> Iterator[TrackerWorkers]:
    tracker = TrackerWorkers(kafka_bootstrap, topic_prefix, fresh_database_url, tmp_path)
    yield tracker
    tracker.stop_all()


async def test_a_month_of_every_kind_converges_to_the_truth(
    kafka_bootstrap: str, workers: TrackerWorkers
) -> None:
    from infra.kafka.topics import ensure_topics, topic_specs

    workers.topic_prefix = f"{workers.topic_prefix}{workers.app_id}."
    await ensure_topics(kafka_bootstrap, topic_specs(workers.topic_prefix))
    result = simulate(CONFIG)
    events = [delivery.event for delivery in result.deliveries]
    truth = result.truth
    assert {c.kind for c in truth.consignments.values()} == set(JourneyKind)
    await produce(kafka_bootstrap, f"{workers.topic_prefix}transit-events", events)
    workers.start()

    expected = truth_snapshot(truth)
    distinct = len({e.event_id for e in events})
    snapshot = await wait_until_converged(workers, expected, distinct, 240.0)
    for key in ("states", "stays", "crossings", "legs"):
        assert snapshot[key] == expected[key], (
            f"{key}: {first_difference(snapshot[key], expected[key])}\n{workers.logs()}"
        )

    wanted = sorted(
        (a.dedup_key, a.kind.value, a.location, a.occurred_at, a.detail)
        for c in truth.consignments.values()
        for a in expected_alerts(c)
    )
    with psycopg.connect(workers.database_url) as conn:
        rows = conn.execute(
            "SELECT dedup_key, kind, location, occurred_at, detail FROM alerts"
            " WHERE kind <> ALL(%s) ORDER BY 1",
            (list(NOT_FROM_EVENTS),),
        ).fetchall()
    raised = sorted(tuple(row) for row in rows)
    assert raised == wanted, first_difference(raised, wanted)
    # The month has each kind of trouble the truth predicts, so the comparison means something.
    kinds = Counter(row[1] for row in raised)
    for kind in (
        "off_route",
        "seal_changed",
        "permit_expired",
        "invalid_transition",
        "non_positive_duration",
        "departure_without_arrival",
        "unconnected_jump",
        "conflicting_duplicate",
    ):
        assert kinds[kind] > 0, kind
    # Each leg a plausibility rule voids is one anomaly of the truth, and flagged for KPIs.
    voiding = {AlertKind.LEG_TOO_FAST.value, AlertKind.NON_POSITIVE_DURATION.value}
    with psycopg.connect(workers.database_url) as conn:
        flagged = conn.execute(
            "SELECT (SELECT count(*) FROM legs WHERE implausible),"
            " (SELECT count(*) FROM stays WHERE implausible)"
        ).fetchone()
    voided_legs = sum(kinds[kind] for kind in voiding)
    assert flagged == (voided_legs, 0)
    await _assert_kpis_count_what_the_truth_says(workers.database_url, truth, voided_legs)
    states = Counter(row[1] for row in snapshot["states"])
    assert states["rejected"] > 0
    assert states["cancelled"] > 0
