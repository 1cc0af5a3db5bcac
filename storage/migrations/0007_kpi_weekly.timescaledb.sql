-- TimescaleDB: location_dwell_weekly, the same relation and columns as
-- 0007_kpi_weekly.postgresql.sql, as a hierarchical continuous aggregate on the
-- location_dwell_daily continuous aggregate (TimescaleDB >= 2.9), with real-time
-- aggregation; no refresh policy (0012 replaces it). time_bucket's weeks start on Monday 2000-01-03, as
-- date_trunc('week') does. Written for TimescaleDB but not exercised by CI, which runs
-- plain PostgreSQL only.
--
-- Where that is unavailable (the Apache edition, whose location_dwell_daily is a plain
-- materialized view, or TimescaleDB < 2.9) the same name is a plain materialized view
-- over location_dwell_daily, refreshed by refresh_kpi_views as on PostgreSQL, and a NOTICE
-- says so.

DO $migration$
DECLARE
    timescaledb_version integer := (
        SELECT split_part(extversion, '.', 1)::integer * 100
               + split_part(extversion, '.', 2)::integer
        FROM pg_extension WHERE extname = 'timescaledb');
BEGIN
    IF coalesce(current_setting('timescaledb.license', true), '') = 'apache'
       OR coalesce(timescaledb_version, 0) < 209 THEN
        RAISE NOTICE 'TimescaleDB Apache edition or < 2.9: location_dwell_weekly is a materialized view refreshed by refresh_kpi_views';
        EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_weekly AS
SELECT
    date_trunc('week', bucket, 'UTC') AS bucket,
    location,
    sum(stays_count)::bigint AS stays_count,
    sum(completed_count)::bigint AS completed_count,
    sum(in_progress_count)::bigint AS in_progress_count,
    sum(dwell_sum_seconds)::bigint AS dwell_sum_seconds,
    sum(dwell_sum_seconds)::double precision / nullif(sum(completed_count), 0) AS dwell_mean_seconds,
    max(dwell_max_seconds) AS dwell_max_seconds,
    ARRAY[
        sum(dwell_histogram[1]),
        sum(dwell_histogram[2]),
        sum(dwell_histogram[3]),
        sum(dwell_histogram[4]),
        sum(dwell_histogram[5]),
        sum(dwell_histogram[6]),
        sum(dwell_histogram[7]),
        sum(dwell_histogram[8]),
        sum(dwell_histogram[9]),
        sum(dwell_histogram[10]),
        sum(dwell_histogram[11]),
        sum(dwell_histogram[12]),
        sum(dwell_histogram[13]),
        sum(dwell_histogram[14])
    ]::bigint[] AS dwell_histogram,
    kpi_histogram_percentile(
        ARRAY[
            sum(dwell_histogram[1]), sum(dwell_histogram[2]), sum(dwell_histogram[3]), sum(dwell_histogram[4]), sum(dwell_histogram[5]),
            sum(dwell_histogram[6]), sum(dwell_histogram[7]), sum(dwell_histogram[8]), sum(dwell_histogram[9]), sum(dwell_histogram[10]),
            sum(dwell_histogram[11]), sum(dwell_histogram[12]), sum(dwell_histogram[13]), sum(dwell_histogram[14])
        ]::bigint[], 0.5) AS dwell_histogram_median_seconds,
    kpi_histogram_percentile(
        ARRAY[
            sum(dwell_histogram[1]), sum(dwell_histogram[2]), sum(dwell_histogram[3]), sum(dwell_histogram[4]), sum(dwell_histogram[5]),
            sum(dwell_histogram[6]), sum(dwell_histogram[7]), sum(dwell_histogram[8]), sum(dwell_histogram[9]), sum(dwell_histogram[10]),
            sum(dwell_histogram[11]), sum(dwell_histogram[12]), sum(dwell_histogram[13]), sum(dwell_histogram[14])
        ]::bigint[], 0.9) AS dwell_histogram_p90_seconds
FROM location_dwell_daily
GROUP BY date_trunc('week', bucket, 'UTC'), location
WITH DATA
        $sql$;
        EXECUTE $sql$
CREATE UNIQUE INDEX location_dwell_weekly_key ON location_dwell_weekly (bucket, location)
        $sql$;
        RETURN;
    END IF;
    EXECUTE $sql$
CREATE MATERIALIZED VIEW location_dwell_weekly
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT
    time_bucket(INTERVAL '1 week', bucket) AS bucket,
    location,
    sum(stays_count)::bigint AS stays_count,
    sum(completed_count)::bigint AS completed_count,
    sum(in_progress_count)::bigint AS in_progress_count,
    sum(dwell_sum_seconds)::bigint AS dwell_sum_seconds,
    sum(dwell_sum_seconds)::double precision / nullif(sum(completed_count), 0) AS dwell_mean_seconds,
    max(dwell_max_seconds) AS dwell_max_seconds,
    ARRAY[
        sum(dwell_histogram[1]),
        sum(dwell_histogram[2]),
        sum(dwell_histogram[3]),
        sum(dwell_histogram[4]),
        sum(dwell_histogram[5]),
        sum(dwell_histogram[6]),
        sum(dwell_histogram[7]),
        sum(dwell_histogram[8]),
        sum(dwell_histogram[9]),
        sum(dwell_histogram[10]),
        sum(dwell_histogram[11]),
        sum(dwell_histogram[12]),
        sum(dwell_histogram[13]),
        sum(dwell_histogram[14])
    ]::bigint[] AS dwell_histogram,
    kpi_histogram_percentile(
        ARRAY[
            sum(dwell_histogram[1]), sum(dwell_histogram[2]), sum(dwell_histogram[3]), sum(dwell_histogram[4]), sum(dwell_histogram[5]),
            sum(dwell_histogram[6]), sum(dwell_histogram[7]), sum(dwell_histogram[8]), sum(dwell_histogram[9]), sum(dwell_histogram[10]),
            sum(dwell_histogram[11]), sum(dwell_histogram[12]), sum(dwell_histogram[13]), sum(dwell_histogram[14])
        ]::bigint[], 0.5) AS dwell_histogram_median_seconds,
    kpi_histogram_percentile(
        ARRAY[
            sum(dwell_histogram[1]), sum(dwell_histogram[2]), sum(dwell_histogram[3]), sum(dwell_histogram[4]), sum(dwell_histogram[5]),
            sum(dwell_histogram[6]), sum(dwell_histogram[7]), sum(dwell_histogram[8]), sum(dwell_histogram[9]), sum(dwell_histogram[10]),
            sum(dwell_histogram[11]), sum(dwell_histogram[12]), sum(dwell_histogram[13]), sum(dwell_histogram[14])
        ]::bigint[], 0.9) AS dwell_histogram_p90_seconds
FROM location_dwell_daily
GROUP BY time_bucket(INTERVAL '1 week', bucket), location
WITH NO DATA
    $sql$;
    CREATE INDEX location_dwell_weekly_key ON location_dwell_weekly (bucket, location);
END
$migration$;
