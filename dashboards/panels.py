"""Small helpers shared by the dashboards: data links, layout, units, reference SQL."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from grafana_foundation_sdk.builders import common
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from corridor.reference import CorridorReference

HOURS = "h"
DAYS = "d"
COUNT = "short"
KMH = "velocitykmh"

CORRIDOR_TAG = "corridor"
# Drill-down targets, here rather than in their modules: every dashboard links to them.
CONSIGNMENT_DASHBOARD_UID = "corridor-consignment"
CONSIGNMENT_VARIABLE = "consignment"
LOCATION_DASHBOARD_UID = "corridor-location-detail"
LOCATION_VARIABLE = "location"


def dashboard_url(uid: str, variable: str) -> str:
    """A link to dashboard `uid` with `variable` set to the clicked cell, keeping the time
    range. Grafana percent-encodes `${__value.raw}` in data links (since 8.5), so ids with
    `/`, `&` or spaces arrive intact."""
    return f"/d/{uid}?var-{variable}=${{__value.raw}}&${{__url_time_range}}"


def _link(title: str, url: str) -> list[model.DynamicConfigValue]:
    return [model.DynamicConfigValue(id_val="links", value=[{"title": title, "url": url}])]


def consignment_link() -> list[model.DynamicConfigValue]:
    """Override properties that turn a consignment id cell into a link to its dashboard:
    inside Grafana, so the operator's Grafana login is all it needs."""
    return _link(
        "Consignment ${__value.raw}",
        dashboard_url(CONSIGNMENT_DASHBOARD_UID, CONSIGNMENT_VARIABLE),
    )


def location_link() -> list[model.DynamicConfigValue]:
    """Override properties that turn a location code cell into a link to its detail."""
    return _link(
        "Location ${__value.raw}", dashboard_url(LOCATION_DASHBOARD_UID, LOCATION_VARIABLE)
    )


def corridor_links() -> dash.DashboardLink:
    """A drop-down to the other corridor dashboards, keeping time range and variables."""
    return (
        dash.DashboardLink("Corridor dashboards")
        .type(model.DashboardLinkType.DASHBOARDS)
        .tags([CORRIDOR_TAG])
        .as_dropdown(True)
        .keep_time(True)
        .include_vars(False)
    )


def corridor_dashboard(
    title: str,
    uid: str,
    description: str,
    *,
    since: str,
    refresh: str,
    cursor: model.DashboardCursorSync = model.DashboardCursorSync.CROSSHAIR,
) -> dash.Dashboard:
    """What every corridor dashboard shares: the tag, UTC, a range ending now, and the
    drop-down to the others."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .tags([CORRIDOR_TAG])
        .description(description)
        .time(since, "now")
        .timezone("utc")
        .refresh(refresh)
        .tooltip(cursor)
        .link(corridor_links())
    )


class _PanelBuilder(Protocol):
    def id(self, id_val: int) -> Any: ...

    def build(self) -> model.Panel: ...


def numbered(*panels: _PanelBuilder) -> list[Builder[model.Panel]]:
    """Stable panel ids in layout order (Grafana needs them unique per dashboard)."""
    result: list[Builder[model.Panel]] = []
    for number, panel in enumerate(panels, start=1):
        result.append(panel.id(number))
    return result


def unit_property(unit: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue(id_val="unit", value=unit)


def grid(x: int, y: int, w: int, h: int) -> model.GridPos:
    return model.GridPos(x=x, y=y, w=w, h=h)


def sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def locations_values(reference: CorridorReference) -> str:
    """The corridor locations as a SQL VALUES list, generated from the reference data.

    There is no locations table; the coordinates travel with the dashboard and are
    regenerated whenever corridor.json changes (`python -m dashboards check` notices).
    """
    rows = (
        f"({sql_literal(loc.code)}, {sql_literal(loc.name)}, {sql_literal(loc.country)}, "
        f"{sql_literal(loc.kind.value)}, {loc.lat:.4f}::double precision, "
        f"{loc.lon:.4f}::double precision)"
        for loc in sorted(reference.locations, key=lambda loc: loc.code)
    )
    return "VALUES\n    " + ",\n    ".join(rows)


def caspian_departure_ports(reference: CorridorReference) -> tuple[str, ...]:
    """Ports where cargo waits for a ship: the origins of the sea segments."""
    return tuple(sorted({s.from_location for s in reference.segments if s.mode == "sea"}))


def sql_list(values: Iterable[str]) -> str:
    return ", ".join(sql_literal(value) for value in values)


def legend() -> common.VizLegendOptions:
    return (
        common.VizLegendOptions()
        .show_legend(True)
        .display_mode(common_model.LegendDisplayMode.LIST)
        .placement(common_model.LegendPlacement.BOTTOM)
    )


def tooltip() -> common.VizTooltipOptions:
    return (
        common.VizTooltipOptions()
        .mode(common_model.TooltipDisplayMode.MULTI)
        .sort(common_model.SortOrder.DESCENDING)
    )
