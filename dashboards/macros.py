"""Expand a panel's SQL the way Grafana does before it reaches PostgreSQL.

Two steps, as in Grafana: the browser substitutes template variables (`$location`,
`${location}`, `[[location]]`), then the PostgreSQL data source's backend expands its
macros. Only the macros these dashboards use are implemented, each exactly as Grafana's
`postgresMacroEngine` writes it; any other macro is an error, so a dashboard that starts
using one fails its tests until it is added here.

    $__timeFilter(col)          col BETWEEN '<from>' AND '<to>'       (RFC 3339, UTC)
    $__timeFrom() / $__timeTo() '<from>' / '<to>'
    $__timeGroup(col, '1d')     floor(extract(epoch from col)/86400)*86400
                                time_bucket('86400.000s',col)         (timescaledb: true)
    $__timeGroupAlias(col, '1d') the same + ' AS "time"'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

_MACRO = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
_VARIABLE = re.compile(r"\$(\w+)|\[\[(\w+?)\]\]|\$\{(\w+)\}")
_INTERVAL = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
_UNIT_SECONDS = {
    unit: Decimal(seconds)
    for unit, seconds in {
        "ms": "0.001",
        "s": "1",
        "m": "60",
        "h": "3600",
        "d": "86400",
        "w": "604800",
    }.items()
}


class MacroError(ValueError):
    """A macro Grafana would reject, or one this expander does not implement."""


@dataclass(frozen=True)
class TimeRange:
    start: datetime
    end: datetime

    def shifted_to(self, relative: str) -> TimeRange:
        """A panel's relative-time override: `now/d` is "today so far", `24h` the last day."""
        if relative == "now/d":
            midnight = self.end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
            return TimeRange(midnight, self.end)
        return TimeRange(self.end - timedelta(seconds=float(interval_seconds(relative))), self.end)


def rfc3339_nano(moment: datetime) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped, then 'Z'."""
    utc = moment.astimezone(UTC)
    text = utc.strftime("%Y-%m-%dT%H:%M:%S")
    if utc.microsecond:
        text += "." + f"{utc.microsecond:06d}".rstrip("0")
    return text + "Z"


def interval_seconds(text: str) -> Decimal:
    match = _INTERVAL.match(text.strip().strip("'"))
    if match is None:
        raise MacroError(f"cannot parse interval {text!r}")
    return Decimal(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def go_float(value: Decimal) -> str:
    """Go's `%v` for a float64: shortest digits, exponent form from 1e+06 or below 1e-4."""
    normal = value.normalize()
    sign, digits, exponent = normal.as_tuple()
    assert isinstance(exponent, int)
    count = len(digits)
    decimal_exponent = count + exponent - 1
    if decimal_exponent < -4 or decimal_exponent >= 6:
        mantissa = "".join(map(str, digits))
        head, tail = mantissa[0], mantissa[1:]
        body = head + ("." + tail if tail else "")
        exponent_sign = "+" if decimal_exponent >= 0 else "-"
        return f"{'-' if sign else ''}{body}e{exponent_sign}{abs(decimal_exponent):02d}"
    return format(normal, "f")


class MacroEngine:
    def __init__(self, time_range: TimeRange, *, timescaledb: bool = False) -> None:
        self._range = time_range
        self._timescaledb = timescaledb
        self._macros: dict[str, Callable[[list[str]], str]] = {
            "__timeFilter": self._time_filter,
            "__timeFrom": lambda _: f"'{rfc3339_nano(self._range.start)}'",
            "__timeTo": lambda _: f"'{rfc3339_nano(self._range.end)}'",
            "__timeGroup": self._time_group,
            "__timeGroupAlias": lambda args: self._time_group(args) + ' AS "time"',
        }

    def expand(self, sql: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            # Grafana's pre-5.3 compatibility: `$__timeGroup(...)` directly followed by a
            # comma (at its first occurrence) is read as `$__timeGroupAlias(...)`.
            if name == "__timeGroup":
                end = sql.find(match.group(0)) + len(match.group(0))
                if end < len(sql) and sql[end] == ",":
                    name = "__timeGroupAlias"
            macro = self._macros.get(name)
            if macro is None:
                raise MacroError(f"unknown macro ${name}")
            return macro([arg.strip(" ") for arg in match.group(2).split(",")])

        return _MACRO.sub(replace, sql)

    def _time_filter(self, args: list[str]) -> str:
        if not args[0]:
            raise MacroError("missing time column argument for macro __timeFilter")
        start, end = rfc3339_nano(self._range.start), rfc3339_nano(self._range.end)
        return f"{args[0]} BETWEEN '{start}' AND '{end}'"

    def _time_group(self, args: list[str]) -> str:
        if len(args) < 2:
            raise MacroError("macro __timeGroup needs time column and interval")
        seconds = interval_seconds(args[1])
        if self._timescaledb:
            return f"time_bucket('{seconds:.3f}s',{args[0]})"
        step = go_float(seconds)
        return f"floor(extract(epoch from {args[0]})/{step})*{step}"


def interpolate_variables(sql: str, values: Mapping[str, str]) -> str:
    """The browser's step for a single-value variable of a SQL data source: the value
    goes in with its quotes doubled and without surrounding quotes (the SQL supplies
    them). Names that are not variables (macros, `$1`) are left alone."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group is not None)
        if name not in values:
            return match.group(0)
        return values[name].replace("'", "''")

    return _VARIABLE.sub(replace, sql)
