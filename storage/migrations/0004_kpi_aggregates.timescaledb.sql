-- TimescaleDB: the same relations as 0004_kpi_aggregates.postgresql.sql, as continuous
-- aggregates with real-time aggregation (materialized_only = false). No refresh policies: 0012
-- replaces these aggregates, and a policy run racing its DROP fails the migration.
-- Needs TimescaleDB >= 2.7 (finalized form: percentile_cont and FILTER are allowed).
-- Written for TimescaleDB but not exercised by CI, which runs plain PostgreSQL only.
--
-- The Apache-licensed edition has no continuous aggregates, compression or policies:
-- there the same names are created as plain materialized views (refreshed by
-- refresh_kpi_views exactly as on PostgreSQL) and a NOTICE says so.

DO $migration$
BEGIN
    IF coalesce(current_setting('timescaledb.license', true), '') = 'apache' THEN
        RAISE NOTICE 'TimescaleDB Apache edition: KPI aggregates fall back to materialized views refreshed by refresh_kpi_views; no compression or retention policies';
        EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_hourly AS
SELECT
    date_trunc('hour', arrived_at, 'UTC') AS bucket,
    location,
    mode,
    direction,
    count(*) AS stays_count,
    count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_sum_seconds,
    avg(dwell_seconds::double precision) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_p90_seconds,
    max(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 14)
    ]::bigint[] AS dwell_histogram
FROM stays
GROUP BY date_trunc('hour', arrived_at, 'UTC'), location, mode, direction
WITH DATA
        $sql$;
        EXECUTE $sql$
CREATE UNIQUE INDEX location_dwell_hourly_key ON location_dwell_hourly (bucket, location, mode, direction) NULLS NOT DISTINCT
        $sql$;
        EXECUTE $sql$
CREATE INDEX location_dwell_hourly_bucket_idx ON location_dwell_hourly (bucket)
        $sql$;
        EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_daily AS
SELECT
    date_trunc('day', arrived_at, 'UTC') AS bucket,
    location,
    mode,
    direction,
    count(*) AS stays_count,
    count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_sum_seconds,
    avg(dwell_seconds::double precision) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_p90_seconds,
    max(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 14)
    ]::bigint[] AS dwell_histogram
FROM stays
GROUP BY date_trunc('day', arrived_at, 'UTC'), location, mode, direction
WITH DATA
        $sql$;
        EXECUTE $sql$
CREATE UNIQUE INDEX location_dwell_daily_key ON location_dwell_daily (bucket, location, mode, direction) NULLS NOT DISTINCT
        $sql$;
        EXECUTE $sql$
CREATE INDEX location_dwell_daily_bucket_idx ON location_dwell_daily (bucket)
        $sql$;
        EXECUTE $sql$
CREATE MATERIALIZED VIEW crossing_time_hourly AS
SELECT
    date_trunc('hour', arrived_at, 'UTC') AS bucket,
    border_id,
    direction,
    mode,
    count(*) AS crossings_count,
    count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_sum_seconds,
    avg(tfi1_seconds::double precision) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_p90_seconds,
    max(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 14)
    ]::bigint[] AS tfi1_histogram
FROM crossings
GROUP BY date_trunc('hour', arrived_at, 'UTC'), border_id, direction, mode
WITH DATA
        $sql$;
        EXECUTE $sql$
CREATE UNIQUE INDEX crossing_time_hourly_key ON crossing_time_hourly (bucket, border_id, direction, mode) NULLS NOT DISTINCT
        $sql$;
        EXECUTE $sql$
CREATE INDEX crossing_time_hourly_bucket_idx ON crossing_time_hourly (bucket)
        $sql$;
        EXECUTE $sql$
CREATE MATERIALIZED VIEW crossing_time_daily AS
SELECT
    date_trunc('day', arrived_at, 'UTC') AS bucket,
    border_id,
    direction,
    mode,
    count(*) AS crossings_count,
    count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_sum_seconds,
    avg(tfi1_seconds::double precision) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_p90_seconds,
    max(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 14)
    ]::bigint[] AS tfi1_histogram
FROM crossings
GROUP BY date_trunc('day', arrived_at, 'UTC'), border_id, direction, mode
WITH DATA
        $sql$;
        EXECUTE $sql$
CREATE UNIQUE INDEX crossing_time_daily_key ON crossing_time_daily (bucket, border_id, direction, mode) NULLS NOT DISTINCT
        $sql$;
        EXECUTE $sql$
CREATE INDEX crossing_time_daily_bucket_idx ON crossing_time_daily (bucket)
        $sql$;
        RETURN;
    END IF;
    EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', arrived_at) AS bucket,
    location,
    mode,
    direction,
    count(*) AS stays_count,
    count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_sum_seconds,
    avg(dwell_seconds::double precision) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_p90_seconds,
    max(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 14)
    ]::bigint[] AS dwell_histogram
FROM stays
GROUP BY time_bucket(INTERVAL '1 hour', arrived_at), location, mode, direction
WITH NO DATA
    $sql$;
    CREATE INDEX location_dwell_hourly_key ON location_dwell_hourly (bucket, location, mode, direction);
    EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 day', arrived_at) AS bucket,
    location,
    mode,
    direction,
    count(*) AS stays_count,
    count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_sum_seconds,
    avg(dwell_seconds::double precision) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY dwell_seconds)
        FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_p90_seconds,
    max(dwell_seconds) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL) AS dwell_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND dwell_seconds IS NOT NULL AND kpi_histogram_bucket(dwell_seconds) = 14)
    ]::bigint[] AS dwell_histogram
FROM stays
GROUP BY time_bucket(INTERVAL '1 day', arrived_at), location, mode, direction
WITH NO DATA
    $sql$;
    CREATE INDEX location_dwell_daily_key ON location_dwell_daily (bucket, location, mode, direction);
    EXECUTE $sql$
CREATE MATERIALIZED VIEW crossing_time_hourly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 hour', arrived_at) AS bucket,
    border_id,
    direction,
    mode,
    count(*) AS crossings_count,
    count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_sum_seconds,
    avg(tfi1_seconds::double precision) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_p90_seconds,
    max(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 14)
    ]::bigint[] AS tfi1_histogram
FROM crossings
GROUP BY time_bucket(INTERVAL '1 hour', arrived_at), border_id, direction, mode
WITH NO DATA
    $sql$;
    CREATE INDEX crossing_time_hourly_key ON crossing_time_hourly (bucket, border_id, direction, mode);
    EXECUTE $sql$
CREATE MATERIALIZED VIEW crossing_time_daily
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 day', arrived_at) AS bucket,
    border_id,
    direction,
    mode,
    count(*) AS crossings_count,
    count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS completed_count,
    count(*) FILTER (WHERE status = 'in_progress') AS in_progress_count,
    sum(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_sum_seconds,
    avg(tfi1_seconds::double precision) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_mean_seconds,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_median_seconds,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY tfi1_seconds)
        FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_p90_seconds,
    max(tfi1_seconds) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL) AS tfi1_max_seconds,
    ARRAY[
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 1),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 2),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 3),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 4),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 5),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 6),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 7),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 8),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 9),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 10),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 11),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 12),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 13),
        count(*) FILTER (WHERE status = 'completed' AND tfi1_seconds IS NOT NULL AND kpi_histogram_bucket(tfi1_seconds) = 14)
    ]::bigint[] AS tfi1_histogram
FROM crossings
GROUP BY time_bucket(INTERVAL '1 day', arrived_at), border_id, direction, mode
WITH NO DATA
    $sql$;
    CREATE INDEX crossing_time_daily_key ON crossing_time_daily (bucket, border_id, direction, mode);
END
$migration$;

-- Compression (chunks whose rows no longer change) and retention of raw events. Both
-- need the Community (TSL) edition; elsewhere they are skipped with a NOTICE.
DO $policies$
BEGIN
    IF coalesce(current_setting('timescaledb.license', true), '') = 'apache' THEN
        RAISE NOTICE 'TimescaleDB Apache edition: compression and retention policies skipped';
        RETURN;
    END IF;
    ALTER TABLE transit_events SET (timescaledb.compress,
        timescaledb.compress_segmentby = 'consignment_id',
        timescaledb.compress_orderby = 'occurred_at');
    PERFORM add_compression_policy('transit_events', INTERVAL '30 days');
    ALTER TABLE stays SET (timescaledb.compress,
        timescaledb.compress_segmentby = 'location',
        timescaledb.compress_orderby = 'arrived_at');
    PERFORM add_compression_policy('stays', INTERVAL '90 days');
    ALTER TABLE crossings SET (timescaledb.compress,
        timescaledb.compress_segmentby = 'border_id',
        timescaledb.compress_orderby = 'arrived_at');
    PERFORM add_compression_policy('crossings', INTERVAL '90 days');
    -- Raw events are kept three years; stays, crossings and the aggregates are kept.
    PERFORM add_retention_policy('transit_events', INTERVAL '1095 days');
EXCEPTION WHEN feature_not_supported OR insufficient_privilege THEN
    RAISE NOTICE 'TimescaleDB compression/retention unavailable (%); continuing without', SQLERRM;
END
$policies$;
