"""Every panel's SQL, expanded as Grafana expands it, against the simulated month.

Template variables take each value their own query returns; macros use the month's
time range (a panel's relative-time override is applied to its end). Each query must
succeed, return the columns its panel reads, and return rows unless its expectation
says why it may be empty.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import psycopg
import pytest
from grafana_foundation_sdk.models.dashboard import Panel, VariableType

from corridor.alerts import AlertKind
from corridor.eta import (
    CorridorStatistics,
    Position,
    duration_stats,
    estimate_arrival,
)
from corridor.events import TransitEvent
from corridor.reference import load_reference
from dashboards import alerts as alerts_dashboard
from dashboards import consignment as consignment_dashboard
from dashboards.catalog import dashboards
from dashboards.macros import MacroEngine, TimeRange, interpolate_variables
from dashboards.query import Format, PostgresQuery
from simulator import SimulationResult
from storage.queries.consignment_eta import ConsignmentEtas
from storage.rows import AlertRow
from storage.writes import WriteRepository
from tests.fixtures.corridor_data import SAMPLE_CONFIG
from tests.integration.test_api_truth import serve_api

# A text-box variable takes whatever the operator types or a link passes; here it takes
# ids the sample month really has: journeys that completed, so every panel has rows.
TEXT_BOX_VALUES = {
    "consignment": "SELECT consignment_id FROM consignments WHERE state = 'completed' "
    "ORDER BY consignment_id LIMIT 3",
}

SAMPLE_RANGE = TimeRange(
    SAMPLE_CONFIG.start,
    SAMPLE_CONFIG.start + timedelta(days=SAMPLE_CONFIG.days) - timedelta(seconds=1),
)


@dataclass(frozen=True)
class PanelQuery:
    dashboard_uid: str
    panel: Panel
    query: PostgresQuery
    variables: dict[str, str]  # name -> the query listing its values

    @property
    def id(self) -> str:
        return f"{self.dashboard_uid}/{self.panel.title}/{self.query.ref_id}"


def _panel_queries() -> Iterator[PanelQuery]:
    for board in dashboards():
        variables = {}
        for variable in board.model.templating.list_val or []:
            if variable.type_val == VariableType.QUERY:
                variables[variable.name] = str(variable.query)
            elif variable.type_val == VariableType.TEXTBOX:
                variables[variable.name] = TEXT_BOX_VALUES[variable.name]
        for panel in board.model.panels or []:
            assert isinstance(panel, Panel), "rows are not used"
            for target in panel.targets or []:
                assert isinstance(target, PostgresQuery)
                yield PanelQuery(board.uid, panel, target, variables)


PANEL_QUERIES = list(_panel_queries())


def _rows(dsn: str, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    with psycopg.connect(dsn) as conn:
        conn.read_only = True  # the populated database is shared by the whole session
        with conn.cursor() as cursor:
            cursor.execute(sql)
            assert cursor.description is not None
            return [column.name for column in cursor.description], cursor.fetchall()


def _bindings(dsn: str, variables: dict[str, str], sql: str) -> list[dict[str, str]]:
    """One binding per value of each variable the SQL uses (one variable at most here)."""
    used = {name: query for name, query in variables.items() if f"${name}" in sql}
    assert len(used) <= 1, "combine values when a panel uses two variables"
    if not used:
        return [{}]
    ((name, query),) = used.items()
    _, rows = _rows(dsn, query)
    assert rows, f"variable {name} has no values"
    return [{name: str(row[0])} for row in rows]


def _check(columns: list[str], rows: list[tuple[object, ...]], item: PanelQuery) -> None:
    expect = item.query.expect
    assert expect is not None, f"{item.id}: declare what the query returns"
    missing = set(expect.columns) - set(columns)
    assert not missing, f"{item.id}: columns {sorted(missing)} missing from {columns}"
    if not rows:
        assert expect.empty_when, f"{item.id}: no rows on the sample month"
        return
    for name in set(expect.columns) - set(expect.nullable):
        index = columns.index(name)
        assert any(row[index] is not None for row in rows), f"{item.id}: {name} always NULL"
    if item.query.format is Format.TIME_SERIES:
        times = [float(str(row[columns.index("time")])) for row in rows]
        assert times == sorted(times), f"{item.id}: Grafana needs time series in time order"


@pytest.mark.parametrize("item", PANEL_QUERIES, ids=[item.id for item in PANEL_QUERIES])
def test_panel_query_runs_on_the_sample_month(item: PanelQuery, populated_database_url: str):
    time_range = SAMPLE_RANGE
    if item.panel.time_from:
        time_range = time_range.shifted_to(item.panel.time_from)
    engine = MacroEngine(time_range)
    sql = item.query.raw_sql
    for binding in _bindings(populated_database_url, item.variables, sql):
        expanded = engine.expand(interpolate_variables(sql, binding))
        assert "$" not in expanded.replace("$$", ""), f"{item.id}: unexpanded {expanded}"
        columns, rows = _rows(populated_database_url, expanded)
        _check(columns, rows, item)


def test_every_location_of_the_sample_is_selectable(populated_database_url: str):
    board = next(b for b in dashboards() if b.uid == "corridor-location-detail")
    (variable,) = [v for v in board.model.templating.list_val or [] if v.name == "location"]
    _, rows = _rows(populated_database_url, str(variable.query))
    codes = {location.code for location in load_reference().locations}
    assert {row[0] for row in rows} <= codes
    assert len(rows) >= 10


async def _raise_sample_alerts(storage_pool: Any) -> list[AlertRow]:
    """The sample month raises no alert; here a few are written the tracker's way."""
    raised = datetime(2026, 3, 10, 12, tzinfo=UTC)
    new_alerts = [
        AlertRow(
            kind=kind.value,
            occurred_at=raised - timedelta(hours=index),
            raised_at=raised + timedelta(hours=index),
            consignment_id=f"MC-2026-{index:06d}",
            carrier_id="carrier-kz-01",
            location=location,
            detail="raised by the dashboards test",
        )
        for index, (kind, location) in enumerate(
            [
                (AlertKind.OVERDUE_STAY, "KZ-AKTAU"),
                (AlertKind.OVERDUE_STAY, "CN-KHORGOS"),
                (AlertKind.SEAL_CHANGED, "GE-SARPI"),
            ],
            start=1,
        )
    ]
    assert await WriteRepository(storage_pool, load_reference()).insert_alerts(new_alerts) == 3
    return new_alerts


async def test_alert_panels_show_raised_alerts(storage_pool, fresh_database_url: str):
    await _raise_sample_alerts(storage_pool)
    engine = MacroEngine(SAMPLE_RANGE)
    queries = [item for item in PANEL_QUERIES if item.dashboard_uid == alerts_dashboard.UID]
    assert queries
    for item in queries:
        columns, rows = _rows(fresh_database_url, engine.expand(item.query.raw_sql))
        assert rows, f"{item.id}: no rows although alerts were raised"
        _check(columns, rows, item)


async def test_alert_panels_count_open_alerts_and_list_withdrawn_ones(
    storage_pool, fresh_database_url: str
):
    raised = await _raise_sample_alerts(storage_pool)
    withdrawn_at = datetime(2026, 3, 11, tzinfo=UTC)
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE alerts SET withdrawn_at = %s WHERE dedup_key = %s",
            (withdrawn_at, raised[0].key),
        )
    engine = MacroEngine(SAMPLE_RANGE)
    panels = {
        item.panel.title: item
        for item in PANEL_QUERIES
        if item.dashboard_uid == alerts_dashboard.UID
    }

    columns, rows = _rows(
        fresh_database_url, engine.expand(panels["Open alerts by location and kind"].query.raw_sql)
    )
    assert sorted(str(row[columns.index("location")]) for row in rows) == ["CN-KHORGOS", "GE-SARPI"]
    columns, rows = _rows(fresh_database_url, engine.expand(panels["Recent alerts"].query.raw_sql))
    listed = {row[columns.index("location")]: row[columns.index("withdrawn_at")] for row in rows}
    assert listed == {"KZ-AKTAU": withdrawn_at, "CN-KHORGOS": None, "GE-SARPI": None}


async def test_consignment_alerts_panel_shows_that_consignments_alerts(
    storage_pool, fresh_database_url: str
):
    raised = await _raise_sample_alerts(storage_pool)
    (item,) = [
        item
        for item in PANEL_QUERIES
        if item.dashboard_uid == consignment_dashboard.UID and item.panel.title == "Alerts"
    ]
    sql = interpolate_variables(item.query.raw_sql, {"consignment": "MC-2026-000003"})
    columns, rows = _rows(fresh_database_url, MacroEngine(SAMPLE_RANGE).expand(sql))
    _check(columns, rows, item)
    assert [(row[columns.index("kind")], row[columns.index("location")]) for row in rows] == [
        (raised[2].kind, "GE-SARPI")
    ]
    # An id with a quote is data, not SQL (Grafana doubles quotes in single values).
    sql = interpolate_variables(item.query.raw_sql, {"consignment": "x' OR 'a' = 'a"})
    assert _rows(fresh_database_url, MacroEngine(SAMPLE_RANGE).expand(sql))[1] == []


async def test_the_tfi1_panel_shows_the_apis_figures(
    populated_database_url: str, sample_run: tuple[SimulationResult, list[TransitEvent]]
) -> None:
    """The overview's TFI1 panel and GET /v1/performance/crossings read the same rollup
    the same way: over the sample month (whole days, a range the API answers from the
    rollups), the same medians and p90s per crossing."""
    (item,) = [
        q
        for q in PANEL_QUERIES
        if q.dashboard_uid == "corridor-overview" and "CPMM TFI1" in (q.panel.title or "")
    ]
    _, rows = _rows(populated_database_url, MacroEngine(SAMPLE_RANGE).expand(item.query.raw_sql))
    panel = {str(row[0]): (float(str(row[1])), float(str(row[2]))) for row in rows}

    end = SAMPLE_CONFIG.start + timedelta(days=SAMPLE_CONFIG.days)
    async with serve_api(populated_database_url, sample_run[0].truth, 1) as api:
        body = await api.get(
            "/v1/performance/crossings",
            **{"from": SAMPLE_CONFIG.start.isoformat(), "to": end.isoformat()},
        )
    assert body["percentiles"] == "sketch"
    figures = {
        f"{i['border_id']} {i['direction']}": (
            i["tfi1"]["median_seconds"],
            i["tfi1"]["p90_seconds"],
        )
        for i in body["items"]
        if i["tfi1"]["count"]
    }
    assert panel
    assert set(panel) == set(figures)
    for crossing, (median_hours, p90_hours) in panel.items():
        assert (median_hours * 3600, p90_hours * 3600) == pytest.approx(
            figures[crossing], rel=1e-12
        )


def _statistics(route: tuple[str, ...], as_of: datetime, count: int) -> CorridorStatistics:
    """`count` recent stays of 10-30 h at each stop and legs of 5-15 h between them."""
    stays = duration_stats([3600.0 * (10 + 20 * i / count) for i in range(count)])
    legs = duration_stats([3600.0 * (5 + 10 * i / count) for i in range(count)])
    assert stays is not None
    assert legs is not None
    return CorridorStatistics(
        as_of - timedelta(days=30),
        as_of,
        {(code, "road"): stays for code in route},
        {(a, b): legs for a, b in pairwise(route)},
    )


async def test_consignment_eta_panel_shows_the_eta_the_dispatcher_recorded(
    storage_pool, fresh_database_url: str
):
    (item,) = [
        item
        for item in PANEL_QUERIES
        if item.dashboard_uid == consignment_dashboard.UID and "ETA" in (item.panel.title or "")
    ]

    def panel(consignment_id: str) -> list[dict[str, object]]:
        sql = interpolate_variables(item.query.raw_sql, {"consignment": consignment_id})
        columns, rows = _rows(fresh_database_url, MacroEngine(SAMPLE_RANGE).expand(sql))
        _check(columns, rows, item)
        return [dict(zip(columns, row, strict=True)) for row in rows]

    route = load_reference().routes[0].locations
    as_of = datetime(2026, 3, 20, 6, tzinfo=UTC)
    waiting = Position(route[0], as_of - timedelta(hours=3), None)
    estimate = estimate_arrival(route, "road", waiting, as_of, _statistics(route, as_of, 40))
    thin = estimate_arrival(route, "road", waiting, as_of, _statistics(route, as_of, 4))
    assert estimate.arrival_p50 is not None
    assert estimate.arrival_p90 is not None
    etas = ConsignmentEtas(storage_pool)
    await etas.record("MC-ETA-1", estimate)
    await etas.record("MC-ETA-2", thin)

    (shown,) = panel("MC-ETA-1")
    assert shown["destination"] == route[-1]
    assert shown["as_of"] == as_of
    assert (shown["arrival_p50"], shown["arrival_p90"]) == (
        estimate.arrival_p50,
        estimate.arrival_p90,
    )
    hours = (estimate.arrival_p50 - as_of).total_seconds() / 3600
    assert float(str(shown["p50_hours_to_go"])) == pytest.approx(hours)
    assert shown["window_start"] == as_of - timedelta(days=30)
    assert (shown["parts"], shown["fewest_samples"]) == (2 * len(route) - 2, 40)
    assert shown["reason"] is None

    (unknown,) = panel("MC-ETA-2")
    assert unknown["arrival_p50"] is None
    assert unknown["unavailable"] == "too_few_samples"
    assert unknown["reason"] == f"4 recent road stays at {route[0]} (need 10)"

    # An older estimate arriving late leaves the newer one; a finished consignment has none.
    older = estimate_arrival(
        route, "road", waiting, as_of - timedelta(hours=1), _statistics(route, as_of, 40)
    )
    await etas.record("MC-ETA-1", older)
    assert panel("MC-ETA-1")[0]["as_of"] == as_of
    await etas.record("MC-ETA-1", None)
    assert panel("MC-ETA-1") == []
