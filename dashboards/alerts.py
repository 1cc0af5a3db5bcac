"""Alerts: what the tracker raised, by kind and location, and the latest ones."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    COUNT,
    consignment_link,
    corridor_dashboard,
    grid,
    legend,
    location_link,
    numbered,
    tooltip,
)
from dashboards.query import DATASOURCE, Expect, Format, Sql

UID = "corridor-alerts"
_QUIET = "no alert was raised in the range (the clean simulated month raises none)"

# The counts leave out alerts a later event withdrew: operators see what still holds.
_BY_KIND_SQL = """
SELECT $__timeGroupAlias(raised_at, '1h'), kind AS metric, count(*) AS value
FROM alerts
WHERE $__timeFilter(raised_at) AND withdrawn_at IS NULL
GROUP BY 1, kind
ORDER BY 1, 2
"""

_BY_LOCATION_SQL = """
SELECT coalesce(location, '(none)') AS location, kind, count(*) AS alerts
FROM alerts
WHERE $__timeFilter(raised_at) AND withdrawn_at IS NULL
GROUP BY 1, kind
ORDER BY 1, 2
"""

_RECENT_SQL = """
SELECT raised_at, kind, location, consignment_id, carrier_id, occurred_at, detail, withdrawn_at
FROM alerts
WHERE $__timeFilter(raised_at)
ORDER BY raised_at DESC, id DESC
LIMIT 500
"""


def _by_kind() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Open alerts raised per hour, by kind")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _BY_KIND_SQL,
                Expect(("time", "metric", "value"), empty_when=_QUIET),
                format=Format.TIME_SERIES,
            )
        )
        .draw_style(common_model.GraphDrawStyle.BARS)
        .fill_opacity(70)
        .unit(COUNT)
        .grid_pos(grid(0, 0, 12, 9))
    )


def _by_location() -> barchart.Panel:
    # One row per location with a column per kind, so the bars stack by kind.
    to_matrix = model.DataTransformerConfig(
        id_val="groupingToMatrix",
        options={
            "columnField": "kind",
            "rowField": "location",
            "valueField": "alerts",
            "emptyValue": "zero",
        },
    )
    return (
        barchart.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Open alerts by location and kind")
        .datasource(DATASOURCE)
        .with_target(
            Sql(_BY_LOCATION_SQL, Expect(("location", "kind", "alerts"), empty_when=_QUIET))
        )
        .with_transformation(to_matrix)
        .x_field("location\\kind")
        .stacking(common_model.StackingMode.NORMAL)
        .orientation(common_model.VizOrientation.HORIZONTAL)
        .unit(COUNT)
        .grid_pos(grid(12, 0, 12, 9))
    )


def _recent() -> table.Panel:
    return (
        table.Panel()
        .title("Recent alerts")
        .description(
            "Newest first (500 at most), withdrawn ones too: `withdrawn_at` is when a later "
            "event made the alert untrue. Click a consignment for its journey."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _RECENT_SQL,
                Expect(
                    ("raised_at", "kind", "location", "consignment_id", "detail", "withdrawn_at"),
                    empty_when=_QUIET,
                    nullable=("withdrawn_at",),
                ),
            )
        )
        .override_by_name("consignment_id", consignment_link())
        .override_by_name("location", location_link())
        .grid_pos(grid(0, 9, 24, 12))
    )


def build() -> dash.Dashboard:
    board = corridor_dashboard(
        "Corridor alerts",
        UID,
        "Alerts raised by the tracker: overdue stays, anomalies in the events.",
        since="now-7d",
        refresh="1m",
    )
    for panel in numbered(_by_kind(), _by_location(), _recent()):
        board.with_panel(panel)
    return board
