-- Plain PostgreSQL: the KPI aggregates as materialized views with exact percentiles
-- (percentile_cont). Refreshed CONCURRENTLY by storage.kpi_refresh.refresh_kpi_views,
-- which `python -m storage refresh-views --every 60` or the tracker runs on a schedule.
-- Buckets are by arrival time (stays.arrived_at, crossings.arrived_at), as on TimescaleDB
-- where a continuous aggregate must bucket on the hypertable's time column.

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
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; NULL modes or
-- directions are real values here, hence NULLS NOT DISTINCT.
CREATE UNIQUE INDEX location_dwell_hourly_key ON location_dwell_hourly (bucket, location, mode, direction) NULLS NOT DISTINCT;
CREATE INDEX location_dwell_hourly_bucket_idx ON location_dwell_hourly (bucket);

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
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; NULL modes or
-- directions are real values here, hence NULLS NOT DISTINCT.
CREATE UNIQUE INDEX location_dwell_daily_key ON location_dwell_daily (bucket, location, mode, direction) NULLS NOT DISTINCT;
CREATE INDEX location_dwell_daily_bucket_idx ON location_dwell_daily (bucket);

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
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; NULL modes or
-- directions are real values here, hence NULLS NOT DISTINCT.
CREATE UNIQUE INDEX crossing_time_hourly_key ON crossing_time_hourly (bucket, border_id, direction, mode) NULLS NOT DISTINCT;
CREATE INDEX crossing_time_hourly_bucket_idx ON crossing_time_hourly (bucket);

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
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; NULL modes or
-- directions are real values here, hence NULLS NOT DISTINCT.
CREATE UNIQUE INDEX crossing_time_daily_key ON crossing_time_daily (bucket, border_id, direction, mode) NULLS NOT DISTINCT;
CREATE INDEX crossing_time_daily_bucket_idx ON crossing_time_daily (bucket);
