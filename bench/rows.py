"""When the database came to hold N event rows, found without counting them over and over.

Counting a table of a million events costs PostgreSQL 0.1-0.2 s of a core each time.
Counted every 1-2 s through a run, as the bench used to, it took 33 s of the database's
CPU during one 146-s two-worker tracker run (pg_stat_statements), on the cores the
tracker was measured on. So `RowWatch` polls PostgreSQL's cumulative insert counter of
the table (a function call), counts exactly only once that says the rows may be in, and
takes the finishing moment from the rows' commit timestamps (`track_commit_timestamp`,
on in the bench cluster): the counter's lag (an idle backend flushes its counts up to
~10 s late) then never adds to a figure. A cluster without commit timestamps is counted
exactly at every poll, as before, and the moment is when the count was seen.
"""

from __future__ import annotations

import time

import psycopg

# The bench cluster's setting that `finished_at` needs.
COMMIT_TIMESTAMPS = {"track_commit_timestamp": "on"}

_INSERTED = "SELECT pg_stat_get_tuples_inserted('transit_events'::regclass)"
_COUNT = "SELECT count(*) FROM transit_events"
_LAST_COMMIT = "SELECT extract(epoch FROM max(pg_xact_commit_timestamp(xmin))) FROM transit_events"
_TRACKS_COMMITS = "SELECT current_setting('track_commit_timestamp') = 'on'"


class RowWatch:
    """Polls one database for `total` rows in `transit_events` (call `reached` often)."""

    def __init__(self, conn: psycopg.Connection, total: int) -> None:
        self._conn = conn  # autocommit, so each poll reads fresh statistics
        self._total = total
        self._seen_at: float | None = None
        row = conn.execute(_TRACKS_COMMITS).fetchone()
        self._commit_timestamps = bool(row and row[0])

    @property
    def cheap(self) -> bool:
        """Whether a poll costs the database next to nothing (not a count every time)."""
        return self._commit_timestamps

    def reached(self) -> bool:
        """True once every row is in. Cheap until the insert counter says they may be."""
        if self._seen_at is not None:
            return True
        if self._commit_timestamps and _scalar(self._conn, _INSERTED) < self._total:
            return False
        # The counter also counts rows of transactions that rolled back: count for sure.
        if _scalar(self._conn, _COUNT) < self._total:
            return False
        self._seen_at = time.time()
        return True

    def finished_at(self) -> float:
        """Wall-clock time (epoch seconds) the last row was committed; the moment
        `reached` saw them all when the cluster keeps no commit timestamps."""
        if self._seen_at is None:
            raise RuntimeError("not every row is in yet")
        if not self._commit_timestamps:
            return self._seen_at
        row = self._conn.execute(_LAST_COMMIT).fetchone()
        return float(row[0]) if row and row[0] is not None else self._seen_at


def _scalar(conn: psycopg.Connection, query: str) -> int:
    row = conn.execute(query).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
