-- How fresh the KPI rollups are, for the "as of" of every KPI answer, /readyz and
-- /metrics. storage.kpi_refresh writes one row per rollup on each run: refreshed_at is
-- the start of its last successful refresh (what was committed before then is in it),
-- consecutive_failures the failed runs since, last_error the newest failure.
--
-- kpi_rollup_status reads it; on TimescaleDB it also reports each continuous
-- aggregate's refresh policy as the scheduler ran it (timescaledb_information), so a
-- policy that keeps failing shows even while refresh-views keeps the rollup fresh.

CREATE TABLE kpi_rollup_refreshes (
    rollup               text PRIMARY KEY,
    refreshed_at         timestamptz,
    attempted_at         timestamptz NOT NULL,
    consecutive_failures integer NOT NULL DEFAULT 0,
    last_error           text
);

DO $status$
BEGIN
    IF to_regclass('timescaledb_information.job_stats') IS NULL THEN
        CREATE VIEW kpi_rollup_status AS
        SELECT rollup, refreshed_at, attempted_at, consecutive_failures, last_error
        FROM kpi_rollup_refreshes;
        RETURN;
    END IF;
    CREATE VIEW kpi_rollup_status AS
    WITH policies AS (
        SELECT s.hypertable_name::text AS rollup, s.last_successful_finish,
               s.last_run_started_at,
               (s.last_run_status = 'Failed')::integer AS failing,
               (SELECT e.err_message FROM timescaledb_information.job_errors AS e
                WHERE e.job_id = s.job_id ORDER BY e.finish_time DESC LIMIT 1) AS last_error
        FROM timescaledb_information.job_stats AS s
        JOIN timescaledb_information.jobs AS j USING (job_id)
        WHERE j.proc_name = 'policy_refresh_continuous_aggregate'
          AND s.hypertable_schema = current_schema()
    )
    SELECT coalesce(r.rollup, p.rollup) AS rollup,
           greatest(r.refreshed_at, p.last_successful_finish) AS refreshed_at,
           greatest(r.attempted_at, p.last_run_started_at) AS attempted_at,
           coalesce(r.consecutive_failures, 0) + coalesce(p.failing, 0) AS consecutive_failures,
           coalesce(r.last_error, CASE WHEN p.failing = 1 THEN 'policy: ' || p.last_error END)
               AS last_error
    FROM kpi_rollup_refreshes AS r
    FULL JOIN policies AS p ON p.rollup = r.rollup;
END
$status$;
