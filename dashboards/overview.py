"""Corridor overview: where cargo waits now, headline KPIs, time to clear each border."""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, common, geomap, stat
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models import geomap as geomap_model

from corridor.reference import CorridorReference
from dashboards.panels import (
    COUNT,
    DAYS,
    HOURS,
    corridor_dashboard,
    grid,
    legend,
    locations_values,
    numbered,
    sql_literal,
    tooltip,
)
from dashboards.query import DATASOURCE, Expect, Sql

UID = "corridor-overview"
ORIGIN_COUNTRY = "CN"
DESTINATION_COUNTRY = "TR"

_MAP_SQL = """
WITH corridor_locations (location, name, country, kind, latitude, longitude) AS (
    {values}
),
merged AS (
    SELECT location, u.key, sum(u.n)::bigint AS n
    FROM location_dwell_daily, unnest(dwell_sketch_keys, dwell_sketch_counts) AS u(key, n)
    WHERE $__timeFilter(bucket)
    GROUP BY location, u.key
),
dwell AS (
    SELECT location,
           kpi_sketch_quantile(array_agg(key), array_agg(n), 0.5) / 3600.0 AS median_dwell_hours,
           sum(n) AS completed_stays
    FROM merged
    GROUP BY location
)
SELECT l.location, l.name, l.country, l.kind, l.latitude, l.longitude,
       d.median_dwell_hours,
       coalesce(q.in_progress_count, 0) AS queue,
       coalesce(d.completed_stays, 0) AS completed_stays
FROM corridor_locations AS l
LEFT JOIN dwell AS d USING (location)
LEFT JOIN location_queue_now AS q USING (location)
ORDER BY l.location
"""

_IN_TRANSIT_SQL = """
SELECT count(*) AS in_transit
FROM consignments
WHERE state IN ('in_transit', 'at_location')
"""

# First arrival in the origin country to the last departure from the destination
# country, for the consignments that left the destination within the range.
_TRANSIT_DAYS_SQL = """
SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM d.departed_at - o.arrived_at))
           / 86400.0 AS median_transit_days,
       count(*) AS consignments
FROM (
    SELECT consignment_id, max(departed_at) AS departed_at
    FROM stays
    WHERE country = {destination} AND $__timeFilter(departed_at)
    GROUP BY consignment_id
) AS d
JOIN LATERAL (
    SELECT min(s.arrived_at) AS arrived_at
    FROM stays AS s
    WHERE s.consignment_id = d.consignment_id AND s.country = {origin}
) AS o ON o.arrived_at IS NOT NULL
"""

_CROSSINGS_TODAY_SQL = """
SELECT count(*) AS crossings
FROM crossings
WHERE status = 'completed' AND $__timeFilter(departed_at)
"""

# The daily rollup's sketches merged over the range, as /v1/performance/crossings merges
# them for long ranges: the same medians and p90s (within 1 % of exact).
_TFI1_BY_BORDER_SQL = """
WITH merged AS (
    SELECT border_id, direction, u.key, sum(u.n)::bigint AS n
    FROM crossing_time_daily, unnest(tfi1_sketch_keys, tfi1_sketch_counts) AS u(key, n)
    WHERE $__timeFilter(bucket)
    GROUP BY border_id, direction, u.key
)
SELECT border_id || ' ' || direction AS crossing,
       kpi_sketch_quantile(array_agg(key), array_agg(n), 0.5) / 3600.0 AS median_hours,
       kpi_sketch_quantile(array_agg(key), array_agg(n), 0.9) / 3600.0 AS p90_hours
FROM merged
GROUP BY border_id, direction
ORDER BY median_hours DESC, crossing
"""


def _map(reference: CorridorReference) -> geomap.Panel:
    markers = {
        "showLegend": True,
        "style": {
            "color": {"field": "median_dwell_hours", "fixed": "dark-green"},
            "opacity": 0.8,
            "size": {"field": "queue", "fixed": 6, "min": 5, "max": 30},
            "symbol": {"fixed": "img/icons/marker/circle.svg", "mode": "fixed"},
            "text": {"field": "location", "fixed": "", "mode": "field"},
            "textConfig": {"fontSize": 9, "offsetY": -12, "textAlign": "center"},
        },
    }
    layer = (
        common.MapLayerOptions()
        .type("markers")
        .name("Corridor locations")
        .config(markers)
        .location(
            common.FrameGeometrySource()
            .mode(common_model.FrameGeometrySourceMode.COORDS)
            .latitude("latitude")
            .longitude("longitude")
        )
        .tooltip(True)
    )
    return (
        geomap.Panel()
        .title("Corridor locations: median dwell (colour) and queue now (size)")
        .description(
            "Median dwell of stays that arrived in the range (within 1 %, from the daily "
            "rollup's sketches); size is the number of consignments at the location now."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _MAP_SQL.format(values=locations_values(reference)),
                Expect(
                    ("location", "name", "latitude", "longitude", "median_dwell_hours", "queue"),
                    nullable=("median_dwell_hours",),
                ),
            )
        )
        .view(geomap.MapViewConfig().id("coords").lat(42).lon(62).zoom(4))
        .controls(geomap.ControlsOptions().show_zoom(True).mouse_wheel_zoom(True))
        .basemap(common.MapLayerOptions().type("default").name("Basemap"))
        .layers([layer])
        .tooltip(geomap.TooltipOptions().mode(geomap_model.TooltipMode.DETAILS))
        .unit(HOURS)
        .decimals(1)
        .color_scheme(dash.FieldColor().mode(model.FieldColorModeId.CONTINUOUS_GR_YL_RD))
        .grid_pos(grid(0, 0, 16, 12))
    )


def _stat(title: str, description: str, sql: Sql, unit: str, row: int) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(sql)
        .unit(unit)
        .decimals(1 if unit == DAYS else 0)
        .graph_mode(common_model.BigValueGraphMode.NONE)
        .grid_pos(grid(16, 4 * row, 8, 4))
    )


def _headline_stats() -> list[stat.Panel]:
    in_transit = _stat(
        "Consignments in transit",
        "Declared consignments moving or at a corridor location now.",
        Sql(_IN_TRANSIT_SQL, Expect(("in_transit",))),
        COUNT,
        row=0,
    )
    transit = _stat(
        "Median transit China → Türkiye",
        "From first arrival at a Chinese border point to departure from Türkiye, for "
        "consignments that left Türkiye in the range.",
        Sql(
            _TRANSIT_DAYS_SQL.format(
                origin=sql_literal(ORIGIN_COUNTRY), destination=sql_literal(DESTINATION_COUNTRY)
            ),
            Expect(("median_transit_days", "consignments")),
        ),
        DAYS,
        row=1,
    ).reduce_options(
        common.ReduceDataOptions().calcs(["lastNotNull"]).fields("/^median_transit_days$/")
    )
    today = _stat(
        "Border crossings today",
        "Crossings (both sides of a border cleared) completed since midnight UTC.",
        Sql(_CROSSINGS_TODAY_SQL, Expect(("crossings",))),
        COUNT,
        row=2,
    ).time_from("now/d")
    return [in_transit, transit, today]


def _tfi1_by_border() -> barchart.Panel:
    return (
        barchart.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Time to clear a border (CPMM TFI1) by crossing")
        .description(
            "Arrival at the first control point to exit from the last, both sides, waiting "
            "included; median and p90 (within 1 %, from the daily rollup's sketches, as the "
            "API's long ranges) of crossings that arrived in the range."
        )
        .datasource(DATASOURCE)
        .with_target(Sql(_TFI1_BY_BORDER_SQL, Expect(("crossing", "median_hours", "p90_hours"))))
        .x_field("crossing")
        .orientation(common_model.VizOrientation.HORIZONTAL)
        .unit(HOURS)
        .decimals(1)
        .grid_pos(grid(0, 12, 24, 10))
    )


def build(reference: CorridorReference) -> dash.Dashboard:
    board = corridor_dashboard(
        "Middle Corridor overview",
        UID,
        "Where cargo waits on the Middle Corridor, and how long borders take.",
        since="now-7d",
        refresh="1m",
    )
    map_panel, (in_transit, transit, today), tfi1 = (
        _map(reference),
        _headline_stats(),
        _tfi1_by_border(),
    )
    for panel in numbered(map_panel, in_transit, transit, today, tfi1):
        board.with_panel(panel)
    return board
