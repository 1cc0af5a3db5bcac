"""The macro expander against Grafana's own expansions (its macros_test.go cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboards.macros import MacroEngine, MacroError, TimeRange, interpolate_variables

FROM = datetime(2018, 4, 12, 18, 0, tzinfo=UTC)
RANGE = TimeRange(FROM, FROM + timedelta(minutes=5))
ENGINE = MacroEngine(RANGE)
TIMESCALE = MacroEngine(RANGE, timescaledb=True)


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        (
            "WHERE $__timeFilter(time_column)",
            "WHERE time_column BETWEEN '2018-04-12T18:00:00Z' AND '2018-04-12T18:05:00Z'",
        ),
        ("select $__timeFrom()", "select '2018-04-12T18:00:00Z'"),
        ("select $__timeTo()", "select '2018-04-12T18:05:00Z'"),
        (
            "SELECT $__timeGroup(time_column,'5m')",
            "SELECT floor(extract(epoch from time_column)/300)*300",
        ),
        (
            "SELECT $__timeGroupAlias(time_column,'5m')",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        ("$__timeGroup(time_column , '5m')", "floor(extract(epoch from time_column)/300)*300"),
        (
            "$__timeGroupAlias(time_column , '5m')",
            'floor(extract(epoch from time_column)/300)*300 AS "time"',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m'), value",
            'SELECT floor(extract(epoch from time_column)/300)*300 AS "time", value',
        ),
        (
            "SELECT $__timeGroup(time_column,'5m') as time, value",
            "SELECT floor(extract(epoch from time_column)/300)*300 as time, value",
        ),
        (
            "$__timeGroupAlias(bucket, '1d')",
            'floor(extract(epoch from bucket)/86400)*86400 AS "time"',
        ),
        ("$__timeGroup(raised_at, '1h')", "floor(extract(epoch from raised_at)/3600)*3600"),
    ],
)
def test_postgres_macros_expand_as_grafana_does(sql: str, expanded: str) -> None:
    assert ENGINE.expand(sql) == expanded


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        ("GROUP BY $__timeGroup(time_column,'5m')", "GROUP BY time_bucket('300.000s',time_column)"),
        (
            "GROUP BY $__timeGroup(time_column , '5m')",
            "GROUP BY time_bucket('300.000s',time_column)",
        ),
        (
            "GROUP BY $__timeGroup(time_column , '12d')",
            "GROUP BY time_bucket('1036800.000s',time_column)",
        ),
        (
            "GROUP BY $__timeGroup(time_column , '20ms')",
            "GROUP BY time_bucket('0.020s',time_column)",
        ),
    ],
)
def test_time_group_uses_time_bucket_when_the_data_source_says_timescaledb(
    sql: str, expanded: str
) -> None:
    assert TIMESCALE.expand(sql) == expanded


def test_fractional_seconds_are_written_like_go_rfc3339_nano() -> None:
    engine = MacroEngine(
        TimeRange(
            datetime(1960, 2, 1, 7, 0, 0, 500_000, tzinfo=UTC),
            datetime(1980, 2, 3, 8, 0, 0, 500_000, tzinfo=UTC),
        )
    )
    assert engine.expand("WHERE $__timeFilter(t)") == (
        "WHERE t BETWEEN '1960-02-01T07:00:00.5Z' AND '1980-02-03T08:00:00.5Z'"
    )


def test_time_is_written_in_utc() -> None:
    almaty = datetime(2026, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=5)))
    engine = MacroEngine(TimeRange(almaty, almaty))
    assert engine.expand("$__timeFrom()") == "'2026-03-01T03:00:00Z'"


@pytest.mark.parametrize(
    "sql",
    ["$__unixEpochFilter(t)", "$__timeGroup(t)", "$__timeGroup(t, 'soon')", "$__timeFilter()"],
)
def test_macros_not_implemented_or_malformed_are_errors(sql: str) -> None:
    with pytest.raises(MacroError):
        ENGINE.expand(sql)


def test_panel_relative_time_today_so_far_starts_at_midnight_utc() -> None:
    end = datetime(2026, 3, 31, 23, 59, 59, tzinfo=UTC)
    today = TimeRange(datetime(2026, 3, 1, tzinfo=UTC), end).shifted_to("now/d")
    assert today == TimeRange(datetime(2026, 3, 31, tzinfo=UTC), end)
    assert TimeRange(end, end).shifted_to("24h").start == end - timedelta(hours=24)


@pytest.mark.parametrize(
    ("sql", "expanded"),
    [
        ("location = '$location'", "location = 'KZ-AKTAU'"),
        ("location = '${location}'", "location = 'KZ-AKTAU'"),
        ("location = '[[location]]'", "location = 'KZ-AKTAU'"),
        ("WHERE $__timeFilter(t) AND $other = $1", "WHERE $__timeFilter(t) AND $other = $1"),
    ],
)
def test_single_value_variables_are_substituted_raw(sql: str, expanded: str) -> None:
    assert interpolate_variables(sql, {"location": "KZ-AKTAU"}) == expanded


def test_a_quote_in_a_variable_value_cannot_end_the_literal() -> None:
    sql = interpolate_variables("location = '$location'", {"location": "x' OR '1'='1"})
    assert sql == "location = 'x'' OR ''1''=''1'"
