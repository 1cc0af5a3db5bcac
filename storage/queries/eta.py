"""The corridor's recent statistics the ETA rule (`corridor.eta`) is built from.

Durations are read as they are and summarised by `corridor.eta.duration_stats`, so the
ETA's medians and p90s follow the one percentile definition of `corridor.kpi`. Stays
count when they departed in the window, legs when they arrived in it; trucks still
waiting are those whose stay is open and began in the window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from corridor.eta import CorridorStatistics, DurationStats, duration_stats
from storage.db import Pool

# arrived_at/departed_at bounds twice the window wide let the time indexes prune.
_DWELL = """
SELECT location, mode, array_agg(dwell_seconds) FROM stays
WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND mode IS NOT NULL
  AND arrived_at >= %(since)s - (%(until)s - %(since)s) AND arrived_at < %(until)s
  AND departed_at >= %(since)s AND departed_at < %(until)s
GROUP BY location, mode
"""
_TRAVEL = """
SELECT from_location, to_location,
       array_agg(extract(epoch FROM arrived_at - departed_at)::bigint)
FROM legs
WHERE departed_at >= %(since)s - (%(until)s - %(since)s) AND departed_at < %(until)s
  AND arrived_at >= %(since)s AND arrived_at < %(until)s
GROUP BY from_location, to_location
"""
_WAITING = """
SELECT location, mode, array_agg(extract(epoch FROM %(until)s - arrived_at)::bigint) FROM stays
WHERE status = 'in_progress' AND mode IS NOT NULL
  AND arrived_at >= %(since)s AND arrived_at < %(until)s
GROUP BY location, mode
"""


class EtaQueries:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def corridor_statistics(self, since: datetime, until: datetime) -> CorridorStatistics:
        params = {"since": since, "until": until}
        async with self._pool.connection() as conn:
            dwell = await (await conn.execute(_DWELL, params)).fetchall()
            travel = await (await conn.execute(_TRAVEL, params)).fetchall()
            waiting = await (await conn.execute(_WAITING, params)).fetchall()
        return CorridorStatistics(
            window_start=since,
            window_end=until,
            dwell=_summarised({(row[0], row[1]): row[2] for row in dwell}),
            travel=_summarised({(row[0], row[1]): row[2] for row in travel}),
            waiting={(row[0], row[1]): [float(v) for v in row[2]] for row in waiting},
        )


def _summarised(groups: dict[Any, list[int]]) -> dict[Any, DurationStats]:
    summaries = {key: duration_stats([float(v) for v in values]) for key, values in groups.items()}
    return {key: stats for key, stats in summaries.items() if stats is not None}
