"""The corridor's recent statistics the ETA rule (`corridor.eta`) is built from.

Read through the KPI rollups, as the operators' reports are (`storage.queries.kpis`):
per location and mode the dwell sketches of the stays that arrived in the window and
have ended, per segment the travel sketches of the legs that departed in it; whole UTC
days from `location_dwell_daily` and `leg_time_daily`, the partial days at the window's
ends from the base tables. Medians and p90s are the merged sketches' (within 1 %),
counts and means exact; stays and legs a plausibility rule voided are left out, as the
rollups leave them out. Stays are read twice: per location and mode, and per location,
mode and direction (those whose events named one).

Windowing by arrival leaves out the longest stays of the window's last days, still open;
on the first 30 days of a simulated quarter that moved the ETA's error by 0.1 h against windowing
by departure (docs/benchmarks.md, "ETA").
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from corridor.eta import CorridorStatistics, DurationStats, sketch_stats
from corridor.sketch import Sketch
from storage.db import Pool

# The rollups' merge and fringe helpers are the KPI reads' own: one way to read them.
from storage.queries.kpis import _merged, _sketch, whole_days

# As the rollups count them: completed, and not voided by a plausibility rule.
_COMPLETED = "status = 'completed' AND dwell_seconds IS NOT NULL AND NOT implausible"


def _dwell(keys: str, only: str = "") -> str:
    """The stays' sketches per `keys` (location and mode, maybe direction), of the rows
    `only` (an extra condition) leaves."""
    return _merged(
        f"""
    SELECT {keys}, completed_count, dwell_sum_seconds, dwell_sketch_keys, dwell_sketch_counts
    FROM location_dwell_daily
    WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s AND mode IS NOT NULL {only}
    UNION ALL
    SELECT {keys}, count(*) FILTER (WHERE {_COMPLETED}),
           sum(dwell_seconds) FILTER (WHERE {_COMPLETED}),
           {_sketch("dwell_seconds", _COMPLETED)}
    FROM stays
    WHERE %(fringe)s AND mode IS NOT NULL {only}
      AND ((arrived_at >= %(start)s AND arrived_at < %(whole_start)s)
           OR (arrived_at >= %(whole_end)s AND arrived_at < %(end)s))
    GROUP BY {keys}""",  # noqa: S608
        keys,
        "sum(completed_count)::bigint, sum(dwell_sum_seconds)::double precision",
        ("dwell",),
    )


_DWELL = _dwell("location, mode")
# Stays whose events named no direction count in _DWELL only.
_DWELL_BY_DIRECTION = _dwell("location, mode, direction", "AND direction IS NOT NULL")
_TRAVEL = _merged(
    f"""
    SELECT from_location, to_location, legs_count, travel_sum_seconds, travel_sketch_keys,
           travel_sketch_counts
    FROM leg_time_daily
    WHERE bucket >= %(whole_start)s AND bucket < %(whole_end)s
    UNION ALL
    SELECT from_location, to_location, count(*) FILTER (WHERE NOT implausible),
           sum(travel_seconds) FILTER (WHERE NOT implausible),
           {_sketch("travel_seconds", "NOT implausible")}
    FROM legs
    WHERE %(fringe)s AND ((departed_at >= %(start)s AND departed_at < %(whole_start)s)
                          OR (departed_at >= %(whole_end)s AND departed_at < %(end)s))
    GROUP BY 1, 2""",  # noqa: S608
    "from_location, to_location",
    "sum(legs_count)::bigint, sum(travel_sum_seconds)::double precision",
    ("travel",),
)


class EtaQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def corridor_statistics(self, since: datetime, until: datetime) -> CorridorStatistics:
        params = {"start": since, "end": until} | whole_days(since, until)
        async with self._pool.connection() as conn:
            dwell = await (await conn.execute(_DWELL, params, binary=True)).fetchall()
            travel = await (await conn.execute(_TRAVEL, params, binary=True)).fetchall()
            directed = await (
                await conn.execute(_DWELL_BY_DIRECTION, params, binary=True)
            ).fetchall()
        return CorridorStatistics(
            window_start=since,
            window_end=until,
            dwell=_summarised({(row[0], row[1]): row for row in dwell}),
            travel=_summarised({(row[0], row[1]): row for row in travel}),
            dwell_by_direction=_summarised({(row[0], row[1], row[2]): row for row in directed}),
        )


def _summarised(rows: dict[Any, Any]) -> dict[Any, DurationStats]:
    """Each row ends with the durations' sum, then their merged sketch's keys and counts."""
    summaries = {
        key: sketch_stats(Sketch.from_arrays(row[-2], row[-1], row[-3] or 0.0))
        for key, row in rows.items()
    }
    return {key: stats for key, stats in summaries.items() if stats is not None}
