"""One consignment's journey, for the operator who clicked its id in another dashboard.

Every consignment id in the other dashboards' tables links here (`consignment_link`), so
the drill-down stays inside Grafana and its login: the carrier API asks for a bearer key,
which a browser link cannot send. The panels read the tracker's tables by the consignment
id alone (each of them is indexed by it) and ignore the time picker, because a journey
that began before the range is still one journey; only the list of recent consignments
follows the range.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import barchart, table
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.panels import (
    CONSIGNMENT_DASHBOARD_UID,
    CONSIGNMENT_VARIABLE,
    HOURS,
    KMH,
    consignment_link,
    corridor_dashboard,
    grid,
    legend,
    location_link,
    numbered,
    tooltip,
    unit_property,
)
from dashboards.query import DATASOURCE, Expect, Sql

UID = CONSIGNMENT_DASHBOARD_UID

_SUMMARY_SQL = """
SELECT consignment_id, carrier_id, state, current_location, route_id,
       array_to_string(declared_route, ' → ') AS declared_route,
       first_event_at, last_event_at, event_count, anomaly_count,
       tir_carnet, mrn, permit_id,
       array_to_string(vehicle_plates, ', ') AS vehicle_plates,
       array_to_string(container_numbers, ', ') AS container_numbers
FROM consignments
WHERE consignment_id = '$consignment'
"""

# An open stay counts until now: how long the consignment has been waiting so far.
_STAYS_SQL = """
SELECT location, visit, status, mode, direction, arrived_at, released_at, departed_at,
       coalesce(dwell_seconds, extract(epoch FROM now() - arrived_at)) / 3600.0
           AS dwell_hours,
       arrival_to_release_seconds / 3600.0 AS arrival_to_release_hours,
       release_to_departure_seconds / 3600.0 AS release_to_departure_hours,
       inspection_seconds / 3600.0 AS inspection_hours
FROM stays
WHERE consignment_id = '$consignment'
ORDER BY arrived_at, visit
"""

_DWELL_SQL = """
SELECT location || CASE WHEN visit > 1 THEN ' (' || visit || ')' ELSE '' END AS stop,
       coalesce(dwell_seconds, extract(epoch FROM now() - arrived_at)) / 3600.0
           AS dwell_hours
FROM stays
WHERE consignment_id = '$consignment'
ORDER BY arrived_at, visit
"""

_CROSSINGS_SQL = """
SELECT border_id, from_location, to_location, direction, mode, status, arrived_at,
       departed_at, tfi1_seconds / 3600.0 AS tfi1_hours
FROM crossings
WHERE consignment_id = '$consignment'
ORDER BY arrived_at
"""

_LEGS_SQL = """
SELECT from_location, to_location, mode, departed_at, arrived_at, distance_km,
       travel_seconds / 3600.0 AS travel_hours,
       origin_dwell_seconds / 3600.0 AS origin_dwell_hours,
       swod_kmh, swd_kmh
FROM legs
WHERE consignment_id = '$consignment'
ORDER BY departed_at
"""

_EVENTS_SQL = """
SELECT occurred_at, event_type, location, source_system, ingested_at, event_id::text AS event_id
FROM transit_events
WHERE consignment_id = '$consignment'
ORDER BY occurred_at, event_id
LIMIT 1000
"""

_ALERTS_SQL = """
SELECT raised_at, kind, location, occurred_at, detail, withdrawn_at
FROM alerts
WHERE consignment_id = '$consignment'
ORDER BY raised_at, id
"""

# The dispatcher records the ETA on each update (storage.queries.consignment_eta): as of
# then, not now, so the panel shows its as_of and what it rested on.
_ETA_SQL = """
SELECT destination, as_of, arrival_p50, arrival_p90,
       extract(epoch FROM arrival_p50 - as_of) / 3600.0 AS p50_hours_to_go,
       extract(epoch FROM arrival_p90 - as_of) / 3600.0 AS p90_hours_to_go,
       window_start, window_end, parts, fewest_samples, unavailable, reason
FROM consignment_eta
WHERE consignment_id = '$consignment'
"""

_RECENT_SQL = """
SELECT consignment_id, carrier_id, state, current_location, last_event_at
FROM consignments
WHERE $__timeFilter(last_event_at)
ORDER BY last_event_at DESC, consignment_id
LIMIT 100
"""


def _consignment_variable() -> dash.TextBoxVariable:
    # A text box, not a query: any id can be typed or linked, without listing them all.
    return (
        dash.TextBoxVariable(CONSIGNMENT_VARIABLE)
        .label("Consignment")
        .description("Consignment id, exactly as the carrier declared it")
    )


def _summary() -> table.Panel:
    return (
        table.Panel()
        .title("Consignment $consignment")
        .description("The tracker's latest view: state, where it is, route and references.")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _SUMMARY_SQL,
                Expect(
                    ("consignment_id", "carrier_id", "state", "last_event_at", "event_count"),
                    nullable=(
                        "current_location",
                        "route_id",
                        "tir_carnet",
                        "mrn",
                        "permit_id",
                        "container_numbers",
                    ),
                ),
            )
        )
        .override_by_name("current_location", location_link())
        .grid_pos(grid(0, 0, 24, 5))
    )


def _eta() -> table.Panel:
    return (
        table.Panel()
        .title("ETA at the destination (p50, p90)")
        .description(
            "Expected arrival as of the consignment's latest update, from the corridor's "
            "stays and legs of the 30 days before it (window_start to window_end): parts "
            "of the journey ahead, and the recent observations of the thinnest one. "
            "No ETA: reason says why (too few observations, not started, arrived)."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _ETA_SQL,
                Expect(
                    ("destination", "as_of", "window_start", "window_end", "parts"),
                    empty_when="the consignment has finished, or no update of it was seen "
                    "since the dispatcher started",
                    nullable=(
                        "arrival_p50",
                        "arrival_p90",
                        "p50_hours_to_go",
                        "p90_hours_to_go",
                        "fewest_samples",
                        "unavailable",
                        "reason",
                    ),
                ),
            )
        )
        .override_by_name("destination", location_link())
        .override_by_regexp("_hours_to_go$", [unit_property(HOURS)])
        .grid_pos(grid(0, 5, 24, 4))
    )


def _stays() -> table.Panel:
    return (
        table.Panel()
        .title("Stays")
        .description(
            "Each arrival at a border crossing point, port or terminal, in journey order. "
            "An open stay's dwell counts until now. Click a location for its detail."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _STAYS_SQL,
                Expect(
                    ("location", "visit", "status", "arrived_at", "dwell_hours"),
                    nullable=("inspection_hours",),
                ),
            )
        )
        .override_by_name("location", location_link())
        .override_by_regexp("_hours$", [unit_property(HOURS)])
        .grid_pos(grid(0, 9, 16, 10))
    )


def _dwell() -> barchart.Panel:
    return (
        barchart.Panel()
        .legend(legend())
        .tooltip(tooltip())
        .title("Hours at each stop")
        .datasource(DATASOURCE)
        .with_target(Sql(_DWELL_SQL, Expect(("stop", "dwell_hours"))))
        .x_field("stop")
        .orientation(common_model.VizOrientation.HORIZONTAL)
        .unit(HOURS)
        .decimals(1)
        .grid_pos(grid(16, 9, 8, 10))
    )


def _crossings() -> table.Panel:
    return (
        table.Panel()
        .title("Border crossings (CPMM TFI1: both sides of the border)")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _CROSSINGS_SQL,
                Expect(
                    ("border_id", "direction", "status", "arrived_at", "tfi1_hours"),
                    nullable=("mode",),
                ),
            )
        )
        .override_by_name("tfi1_hours", [unit_property(HOURS)])
        .grid_pos(grid(0, 19, 12, 8))
    )


def _legs() -> table.Panel:
    return (
        table.Panel()
        .title("Legs between locations (CPMM SWOD and SWD)")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _LEGS_SQL,
                Expect(
                    ("from_location", "to_location", "mode", "departed_at", "travel_hours"),
                    nullable=("origin_dwell_hours",),
                ),
            )
        )
        .override_by_regexp("_hours$", [unit_property(HOURS)])
        .override_by_regexp("_kmh$", [unit_property(KMH)])
        .grid_pos(grid(12, 19, 12, 8))
    )


def _events() -> table.Panel:
    return (
        table.Panel()
        .title("Events received")
        .description(
            "Every distinct event stored for the consignment, by the time it happened; "
            "ingested_at shows late arrivals."
        )
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _EVENTS_SQL,
                Expect(
                    ("occurred_at", "event_type", "location", "source_system", "ingested_at"),
                ),
            )
        )
        .override_by_name("location", location_link())
        .grid_pos(grid(0, 27, 16, 12))
    )


def _alerts() -> table.Panel:
    return (
        table.Panel()
        .title("Alerts")
        .description("`withdrawn_at`: when a later event made the alert untrue; empty while open.")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _ALERTS_SQL,
                Expect(
                    ("raised_at", "kind", "occurred_at", "detail", "withdrawn_at"),
                    empty_when="no alert was raised for the consignment",
                    nullable=("location", "withdrawn_at"),
                ),
            )
        )
        .override_by_name("location", location_link())
        .grid_pos(grid(16, 27, 8, 12))
    )


def _recent() -> table.Panel:
    return (
        table.Panel()
        .title("Recently updated consignments")
        .description("The 100 with the latest events in the range. Click an id to open it.")
        .datasource(DATASOURCE)
        .with_target(
            Sql(
                _RECENT_SQL,
                Expect(("consignment_id", "carrier_id", "state", "last_event_at")),
            )
        )
        .override_by_name("consignment_id", consignment_link())
        .override_by_name("current_location", location_link())
        .grid_pos(grid(0, 39, 24, 10))
    )


def build() -> dash.Dashboard:
    board = corridor_dashboard(
        "Corridor consignment",
        UID,
        "One consignment: state, ETA, stays, crossings, legs, events and alerts.",
        since="now-30d",
        refresh="1m",
        cursor=model.DashboardCursorSync.OFF,
    ).with_variable(_consignment_variable())
    panels = numbered(
        _summary(),
        _eta(),
        _stays(),
        _dwell(),
        _crossings(),
        _legs(),
        _events(),
        _alerts(),
        _recent(),
    )
    for panel in panels:
        board.with_panel(panel)
    return board
