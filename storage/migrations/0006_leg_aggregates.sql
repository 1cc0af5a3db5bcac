-- Legs per day of departure, so /v1/performance/legs can answer long ranges without
-- sorting every leg of the range. Same shape as the other KPI aggregates: counts and
-- sums (exact when added up), the day's exact median, and fixed-bucket histograms that
-- add up across days: travel time on kpi_histogram_edges() (seconds), SWOD and SWD on
-- kpi_speed_histogram_edges() (km/h). Plus running totals per leg and mode (this day
-- included), so any run of whole days is one row minus another: a year of legs costs
-- two index lookups per leg instead of adding up ~10k daily rows.
--
-- One file for both backends: legs is a plain table on both (not a hypertable, which a
-- continuous aggregate would need), so this is a materialized view on both, refreshed
-- CONCURRENTLY by storage.kpi_refresh (`python -m storage refresh-views`).

-- Lower edges, in km/h; the last bucket (>= 80 km/h) is open-ended.
CREATE FUNCTION kpi_speed_histogram_edges() RETURNS double precision[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[0, 2, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 80]::double precision[]
$$;

-- 1-based histogram slot of a speed (negative speeds count in the first slot).
CREATE FUNCTION kpi_speed_histogram_bucket(kmh double precision) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(width_bucket(kmh, kpi_speed_histogram_edges()), 1)
$$;

-- kpi_histogram_percentile on other edges: linear interpolation inside the slot that
-- holds the target rank; the open-ended last slot answers with its lower edge.
CREATE FUNCTION kpi_histogram_percentile(
    histogram bigint[], fraction double precision, edges double precision[])
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    slots  integer := array_length(edges, 1);
    total  bigint;
    target double precision;
    seen   bigint := 0;
BEGIN
    SELECT sum(c) INTO total FROM unnest(histogram) AS c;
    IF total IS NULL OR total = 0 THEN
        RETURN NULL;
    END IF;
    target := fraction * total;
    FOR i IN 1..slots LOOP
        IF histogram[i] > 0 AND seen + histogram[i] >= target THEN
            IF i = slots THEN
                RETURN edges[i];
            END IF;
            RETURN edges[i] + (edges[i + 1] - edges[i]) * (target - seen) / histogram[i];
        END IF;
        seen := seen + coalesce(histogram[i], 0);
    END LOOP;
    RETURN edges[slots];
END
$$;

CREATE MATERIALIZED VIEW leg_time_daily AS
WITH daily AS (
    SELECT
        date_trunc('day', departed_at, 'UTC') AS bucket,
        from_location,
        to_location,
        mode,
        count(*) AS legs_count,
        sum(travel_seconds) AS travel_sum_seconds,
        avg(travel_seconds::double precision) AS travel_mean_seconds,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY travel_seconds) AS travel_median_seconds,
        max(travel_seconds) AS travel_max_seconds,
        ARRAY[
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 1),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 2),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 3),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 4),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 5),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 6),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 7),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 8),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 9),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 10),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 11),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 12),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 13),
            count(*) FILTER (WHERE kpi_histogram_bucket(travel_seconds) = 14)
        ]::bigint[] AS travel_histogram,
        count(swod_kmh) AS swod_count,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY swod_kmh) AS swod_median_kmh,
        ARRAY[
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 1),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 2),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 3),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 4),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 5),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 6),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 7),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 8),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 9),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 10),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 11),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 12),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 13),
            count(*) FILTER (WHERE swod_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swod_kmh) = 14)
        ]::bigint[] AS swod_histogram,
        count(swd_kmh) AS swd_count,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY swd_kmh) AS swd_median_kmh,
        ARRAY[
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 1),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 2),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 3),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 4),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 5),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 6),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 7),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 8),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 9),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 10),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 11),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 12),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 13),
            count(*) FILTER (WHERE swd_kmh IS NOT NULL AND kpi_speed_histogram_bucket(swd_kmh) = 14)
        ]::bigint[] AS swd_histogram
    FROM legs
    GROUP BY date_trunc('day', departed_at, 'UTC'), from_location, to_location, mode
)
SELECT
    daily.*,
    sum(legs_count) OVER running AS legs_running_count,
    ARRAY[
        sum(travel_histogram[1]) OVER running,
        sum(travel_histogram[2]) OVER running,
        sum(travel_histogram[3]) OVER running,
        sum(travel_histogram[4]) OVER running,
        sum(travel_histogram[5]) OVER running,
        sum(travel_histogram[6]) OVER running,
        sum(travel_histogram[7]) OVER running,
        sum(travel_histogram[8]) OVER running,
        sum(travel_histogram[9]) OVER running,
        sum(travel_histogram[10]) OVER running,
        sum(travel_histogram[11]) OVER running,
        sum(travel_histogram[12]) OVER running,
        sum(travel_histogram[13]) OVER running,
        sum(travel_histogram[14]) OVER running
    ]::bigint[] AS travel_running_histogram,
    ARRAY[
        sum(swod_histogram[1]) OVER running,
        sum(swod_histogram[2]) OVER running,
        sum(swod_histogram[3]) OVER running,
        sum(swod_histogram[4]) OVER running,
        sum(swod_histogram[5]) OVER running,
        sum(swod_histogram[6]) OVER running,
        sum(swod_histogram[7]) OVER running,
        sum(swod_histogram[8]) OVER running,
        sum(swod_histogram[9]) OVER running,
        sum(swod_histogram[10]) OVER running,
        sum(swod_histogram[11]) OVER running,
        sum(swod_histogram[12]) OVER running,
        sum(swod_histogram[13]) OVER running,
        sum(swod_histogram[14]) OVER running
    ]::bigint[] AS swod_running_histogram,
    ARRAY[
        sum(swd_histogram[1]) OVER running,
        sum(swd_histogram[2]) OVER running,
        sum(swd_histogram[3]) OVER running,
        sum(swd_histogram[4]) OVER running,
        sum(swd_histogram[5]) OVER running,
        sum(swd_histogram[6]) OVER running,
        sum(swd_histogram[7]) OVER running,
        sum(swd_histogram[8]) OVER running,
        sum(swd_histogram[9]) OVER running,
        sum(swd_histogram[10]) OVER running,
        sum(swd_histogram[11]) OVER running,
        sum(swd_histogram[12]) OVER running,
        sum(swd_histogram[13]) OVER running,
        sum(swd_histogram[14]) OVER running
    ]::bigint[] AS swd_running_histogram
FROM daily
WINDOW running AS (PARTITION BY from_location, to_location, mode ORDER BY bucket)
WITH DATA;
-- REFRESH ... CONCURRENTLY needs a unique index on plain columns; this order also
-- serves the API's "latest row of this leg before day X" lookups.
CREATE UNIQUE INDEX leg_time_daily_key ON leg_time_daily (from_location, to_location, mode, bucket);
