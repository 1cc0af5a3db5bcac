"""Corridor legs and the Caspian: travel times, CPMM speeds, waits for a ship.

Speeds are distance-weighted like corridor.kpi's journey speeds: SWD = km over elapsed
time including the stop at the origin, SWOD = km over moving time.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries

from corridor.reference import CorridorReference
from dashboards.panels import (
    HOURS,
    KMH,
    caspian_departure_ports,
    corridor_dashboard,
    grid,
    legend,
    location_link,
    numbered,
    sql_list,
    sql_literal,
    tooltip,
    unit_property,
)
from dashboards.query import DATASOURCE, Expect, Format, Sql

UID = "corridor-legs-caspian"

_TRAVEL_SQL = """
SELECT from_location, to_location, mode,
       count(*) AS trips,
       max(distance_km) AS distance_km,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY travel_seconds) / 3600.0 AS median_travel_hours,
       percentile_disc(0.9) WITHIN GROUP (ORDER BY travel_seconds) / 3600.0 AS p90_travel_hours,
       3600.0 * sum(distance_km)
           / nullif(sum(travel_seconds + coalesce(origin_dwell_seconds, 0)), 0) AS swd_kmh,
       3600.0 * sum(distance_km) / nullif(sum(travel_seconds), 0) AS swod_kmh
FROM legs
WHERE $__timeFilter(departed_at)
GROUP BY from_location, to_location, mode
ORDER BY from_location, to_location, mode
"""

_SPEED_SQL = """
SELECT $__timeGroupAlias(departed_at, '1d'),
       mode || ' {label}' AS metric,
       3600.0 * sum(distance_km) / nullif(sum({elapsed}), 0) AS value
FROM legs
WHERE distance_km IS NOT NULL AND $__timeFilter(departed_at)
GROUP BY 1, mode
ORDER BY 1, 2
"""

_SHIP_WAIT_SQL = """
SELECT $__timeGroupAlias(arrived_at, '1d'),
       location AS metric,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY dwell_seconds) / 3600.0 AS value
FROM stays
WHERE location IN ({ports}) AND status = 'completed' AND $__timeFilter(arrived_at)
GROUP BY 1, location
ORDER BY 1, 2
"""

_PORTS_SQL = """
WITH done AS (
    SELECT location,
           count(*) AS departed,
           percentile_disc(0.5) WITHIN GROUP (ORDER BY dwell_seconds) / 3600.0 AS median_wait_hours,
           percentile_disc(0.9) WITHIN GROUP (ORDER BY dwell_seconds) / 3600.0 AS p90_wait_hours
    FROM stays
    WHERE location IN ({ports}) AND status = 'completed' AND $__timeFilter(arrived_at)
    GROUP BY location
),
waiting AS (
    SELECT location, count(*) AS waiting_now, max(waiting_seconds) / 3600.0 AS longest_wait_hours
    FROM stays_in_progress
    WHERE location IN ({ports})
    GROUP BY location
)
SELECT p.port, coalesce(d.departed, 0) AS departed, d.median_wait_hours, d.p90_wait_hours,
       coalesce(w.waiting_now, 0) AS waiting_now, w.longest_wait_hours
FROM (VALUES {port_rows}) AS p (port)
LEFT JOIN done AS d ON d.location = p.port
LEFT JOIN waiting AS w ON w.location = p.port
ORDER BY p.port
"""

_SEA_SQL = """
SELECT from_location, to_location,
       count(*) AS sailings,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY origin_dwell_seconds)
           / 3600.0 AS median_wait_hours,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY travel_seconds) / 3600.0 AS median_sailing_hours,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY travel_seconds + origin_dwell_seconds)
           / 3600.0 AS median_port_to_port_hours
FROM legs
WHERE mode = 'sea' AND $__timeFilter(departed_at)
GROUP BY from_location, to_location
ORDER BY from_location, to_location
"""


def _hours(*columns: str) -> list[tuple[str, str]]:
    return [(column, HOURS) for column in columns]


def _table(title: str, description: str, sql: Sql, units: list[tuple[str, str]]) -> table.Panel:
    panel = table.Panel().title(title).description(description).datasource(DATASOURCE)
    panel = panel.with_target(sql)
    for column, unit in units:
        panel = panel.override_by_name(column, [unit_property(unit)])
    return panel.decimals(1)


def _travel() -> table.Panel:
    return _table(
        "Travel time and CPMM speeds by segment",
        "Legs that departed in the range. SWD includes the stop at the origin, SWOD does not.",
        Sql(
            _TRAVEL_SQL,
            Expect(
                (
                    "from_location",
                    "to_location",
                    "mode",
                    "trips",
                    "median_travel_hours",
                    "swd_kmh",
                    "swod_kmh",
                ),
            ),
        ),
        [*_hours("median_travel_hours", "p90_travel_hours"), ("swd_kmh", KMH), ("swod_kmh", KMH)],
    ).grid_pos(grid(0, 0, 24, 10))


def _speeds() -> timeseries.Panel:
    moving = "travel_seconds"
    elapsed = "travel_seconds + coalesce(origin_dwell_seconds, 0)"
    expect = Expect(("time", "metric", "value"))
    return (
        timeseries.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("CPMM speed by mode (SWD with delay, SWOD without)")
        .datasource(DATASOURCE)
        .with_target(
            Sql(_SPEED_SQL.format(label="SWD", elapsed=elapsed), expect, format=Format.TIME_SERIES)
        )
        .with_target(
            Sql(
                _SPEED_SQL.format(label="SWOD", elapsed=moving),
                expect,
                format=Format.TIME_SERIES,
                ref_id="B",
            )
        )
        .unit(KMH)
        .decimals(1)
        .grid_pos(grid(0, 10, 12, 9))
    )


def _ship_waits(ports: str) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Waiting for a ship: median dwell at the Caspian ports by arrival day")
        .description("From arrival at the port to the vessel's departure.")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _SHIP_WAIT_SQL.format(ports=ports),
                Expect(("time", "metric", "value")),
                format=Format.TIME_SERIES,
            )
        )
        .unit(HOURS)
        .decimals(1)
        .grid_pos(grid(12, 10, 12, 9))
    )


def _ports(port_codes: tuple[str, ...], ports: str) -> table.Panel:
    port_rows = ", ".join(f"({sql_literal(code)})" for code in port_codes)
    panel = _table(
        "Caspian ports: waits for a ship",
        f"Ports {', '.join(port_codes)}: completed waits in the range, and cargo waiting now.",
        Sql(
            _PORTS_SQL.format(ports=ports, port_rows=port_rows),
            Expect(
                ("port", "departed", "median_wait_hours", "waiting_now"),
                nullable=("longest_wait_hours",),
            ),
        ),
        _hours("median_wait_hours", "p90_wait_hours", "longest_wait_hours"),
    )
    return panel.override_by_name("port", location_link()).grid_pos(grid(0, 19, 12, 7))


def _sea() -> table.Panel:
    return _table(
        "Caspian crossings: wait, sailing, port to port",
        "Sea legs that departed in the range: wait at the origin port, time at sea, total.",
        Sql(
            _SEA_SQL,
            Expect(
                (
                    "from_location",
                    "to_location",
                    "sailings",
                    "median_wait_hours",
                    "median_sailing_hours",
                    "median_port_to_port_hours",
                ),
            ),
        ),
        _hours("median_wait_hours", "median_sailing_hours", "median_port_to_port_hours"),
    ).grid_pos(grid(12, 19, 12, 7))


def build(reference: CorridorReference) -> dash.Dashboard:
    port_codes = caspian_departure_ports(reference)
    ports = sql_list(port_codes)
    board = corridor_dashboard(
        "Corridor legs and the Caspian",
        UID,
        "Travel between corridor locations, CPMM speeds, and the Caspian crossing.",
        since="now-30d",
        refresh="5m",
    )
    panels = numbered(_travel(), _speeds(), _ship_waits(ports), _ports(port_codes, ports), _sea())
    for panel in panels:
        board.with_panel(panel)
    return board
