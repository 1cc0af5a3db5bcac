-- Plain PostgreSQL: location_dwell_weekly, the daily dwell aggregate rolled up to weeks
-- (Monday 00:00 UTC, as date_trunc('week') and TimescaleDB's time_bucket) per location, the
-- grain of GET /v1/performance/locations?bucket=week: a year of every location is ~1.3k
-- rows, each already the week's answer, instead of ~10k daily rows to add up and
-- interpolate per request (storage.reads).
--
-- Only what adds up across days: counts, the dwell sum (and the mean from it), the max and
-- the histogram, and the median and p90 interpolated in that histogram
-- (kpi_histogram_percentile; the daily rows' exact percentiles do not add up). Built from
-- location_dwell_daily, so refresh_kpi_views refreshes it after that one
-- (storage.kpi_refresh.KPI_VIEWS order).

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
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; bucket first for ranges.
CREATE UNIQUE INDEX location_dwell_weekly_key ON location_dwell_weekly (bucket, location);
