"""Border crossing point detail: one location's dwell, release stages, flow and queue.

Daily dwell percentiles come from the daily rollup's sketches (within 1 %, the API's
figures for long ranges); the release stages are exact (nearest rank over the stays).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    COUNT,
    HOURS,
    LOCATION_DASHBOARD_UID,
    LOCATION_VARIABLE,
    consignment_link,
    corridor_dashboard,
    grid,
    legend,
    numbered,
    tooltip,
    unit_property,
)
from dashboards.query import DATASOURCE, Expect, Format, Sql

UID = LOCATION_DASHBOARD_UID
LOCATIONS_SQL = "SELECT DISTINCT location FROM location_dwell_daily ORDER BY location"

# Per arrival day, the daily rollup's sketches of every mode and direction merged: the
# figures /v1/performance/locations?bucket=day gives for long ranges (within 1 %).
_DWELL_SQL = """
WITH merged AS (
    SELECT bucket, u.key, sum(u.n)::bigint AS n
    FROM location_dwell_daily, unnest(dwell_sketch_keys, dwell_sketch_counts) AS u(key, n)
    WHERE location = '$location' AND $__timeFilter(bucket)
    GROUP BY bucket, u.key
)
SELECT $__timeGroupAlias(bucket, '1d'),
       kpi_sketch_quantile(array_agg(key), array_agg(n), 0.5) / 3600.0 AS "median dwell",
       kpi_sketch_quantile(array_agg(key), array_agg(n), 0.9) / 3600.0 AS "p90 dwell"
FROM merged
GROUP BY 1
ORDER BY 1
"""

# WCO Time Release Study stages; inspection overlaps arrival -> release.
_STAGES_SQL = """
SELECT st.stage,
       avg(st.seconds) / 3600.0 AS mean_hours,
       percentile_disc(0.5) WITHIN GROUP (ORDER BY st.seconds) / 3600.0 AS median_hours,
       count(*) AS stays
FROM stays AS s
CROSS JOIN LATERAL (VALUES
    ('1 arrival → release', s.arrival_to_release_seconds),
    ('2 release → departure', s.release_to_departure_seconds),
    ('3 inspection', s.inspection_seconds)
) AS st (stage, seconds)
WHERE s.location = '$location' AND $__timeFilter(s.arrived_at) AND st.seconds IS NOT NULL
GROUP BY st.stage
ORDER BY st.stage
"""

_ARRIVALS_SQL = """
SELECT $__timeGroupAlias(bucket, '1d'), sum(stays_count) AS arrivals
FROM location_dwell_daily
WHERE location = '$location' AND $__timeFilter(bucket)
GROUP BY 1
ORDER BY 1
"""

_DEPARTURES_SQL = """
SELECT $__timeGroupAlias(departed_at, '1d'), count(*) AS departures
FROM stays
WHERE location = '$location' AND $__timeFilter(departed_at)
GROUP BY 1
ORDER BY 1
"""

_QUEUE_SQL = """
SELECT coalesce(sum(in_progress_count), 0) AS at_location,
       coalesce(sum(awaiting_release_count), 0) AS awaiting_release
FROM location_queue_now
WHERE location = '$location'
"""

_IN_PROGRESS_SQL = """
SELECT consignment_id, carrier_id, mode, direction, arrived_at, released_at,
       waiting_seconds / 3600.0 AS waiting_hours
FROM stays_in_progress
WHERE location = '$location'
ORDER BY arrived_at
"""

_SLOWEST_SQL = """
SELECT consignment_id, carrier_id, mode, direction, status, arrived_at, departed_at,
       coalesce(dwell_seconds, extract(epoch FROM $__timeTo()::timestamptz - arrived_at))
           / 3600.0 AS dwell_hours
FROM stays
WHERE location = '$location' AND $__timeFilter(arrived_at)
ORDER BY dwell_hours DESC, consignment_id
LIMIT 20
"""


def _location_variable() -> dash.QueryVariable:
    return (
        dash.QueryVariable(LOCATION_VARIABLE)
        .label("Location")
        .datasource(DATASOURCE)
        .query(LOCATIONS_SQL)
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def _dwell() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Dwell at $location: median and p90 by arrival day")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _DWELL_SQL,
                Expect(("time", "median dwell", "p90 dwell")),
                format=Format.TIME_SERIES,
            )
        )
        .unit(HOURS)
        .decimals(1)
        .grid_pos(grid(0, 0, 12, 8))
    )


def _stages() -> barchart.Panel:
    return (
        barchart.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Time release stages (WCO TRS) at $location")
        .description("Mean and median of each stage for stays that arrived in the range.")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _STAGES_SQL,
                Expect(("stage", "mean_hours", "median_hours", "stays")),
            )
        )
        .x_field("stage")
        .unit(HOURS)
        .decimals(1)
        .override_by_name(
            "stays",
            [
                model.DynamicConfigValue(
                    id_val="custom.hideFrom", value={"viz": True, "legend": True, "tooltip": False}
                )
            ],
        )
        .grid_pos(grid(12, 0, 12, 8))
    )


def _throughput() -> timeseries.Panel:
    return (
        timeseries.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Throughput at $location: arrivals and departures per day")
        .datasource(DATASOURCE)
        .with_target(Sql(_ARRIVALS_SQL, Expect(("time", "arrivals")), format=Format.TIME_SERIES))
        .with_target(
            Sql(
                _DEPARTURES_SQL,
                Expect(("time", "departures")),
                format=Format.TIME_SERIES,
                ref_id="B",
            )
        )
        .draw_style(common_model.GraphDrawStyle.BARS)
        .fill_opacity(60)
        .unit(COUNT)
        .grid_pos(grid(0, 8, 16, 8))
    )


def _queue() -> stat.Panel:
    return (
        stat.Panel()
        .title("At $location now")
        .description("Consignments with an open stay, and those not yet released by customs.")
        .datasource(DATASOURCE)
        .with_target(Sql(_QUEUE_SQL, Expect(("at_location", "awaiting_release"))))
        .unit(COUNT)
        .graph_mode(common_model.BigValueGraphMode.NONE)
        .grid_pos(grid(16, 8, 8, 8))
    )


def _in_progress() -> table.Panel:
    return (
        table.Panel()
        .title("Consignments in progress at $location")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _IN_PROGRESS_SQL,
                Expect(
                    ("consignment_id", "carrier_id", "arrived_at", "waiting_hours"),
                    empty_when="nothing is at the location at the moment",
                    nullable=("released_at",),
                ),
            )
        )
        .override_by_name("consignment_id", consignment_link())
        .override_by_name("waiting_hours", [unit_property(HOURS)])
        .grid_pos(grid(0, 16, 12, 10))
    )


def _slowest() -> table.Panel:
    return (
        table.Panel()
        .title("Slowest consignments at $location")
        .description(
            "The 20 longest stays that arrived in the range; an open stay counts until the "
            "end of the range. Click an id for its journey."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _SLOWEST_SQL,
                Expect(
                    ("consignment_id", "carrier_id", "status", "arrived_at", "dwell_hours"),
                    nullable=("departed_at",),
                ),
            )
        )
        .override_by_name("consignment_id", consignment_link())
        .override_by_name("dwell_hours", [unit_property(HOURS)])
        .grid_pos(grid(12, 16, 12, 10))
    )


def build() -> dash.Dashboard:
    board = corridor_dashboard(
        "Corridor location detail",
        UID,
        "One border crossing point or port: dwell, release stages, flow, queue.",
        since="now-30d",
        refresh="5m",
    ).with_variable(_location_variable())
    panels = numbered(_dwell(), _stages(), _throughput(), _queue(), _in_progress(), _slowest())
    for panel in panels:
        board.with_panel(panel)
    return board
