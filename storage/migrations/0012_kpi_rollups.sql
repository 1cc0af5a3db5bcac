-- The KPI rollups, rebuilt on the sketch of 0011 for both backends from one definition.
-- Replaces the fixed-edge histograms of 0003, 0004, 0006 and 0007 (dropped here with
-- their helpers): percentiles interpolated in 14 slots were off by up to 93 % at long
-- ranges.
--
-- Every rollup row holds exact counts, sum, mean, max and the bucket's exact median and
-- p90 (percentile_disc: nearest rank, the project's one quantile definition); the daily
-- rollups also a sketch per measure (*_sketch_keys, *_sketch_counts) that adds up over
-- any run of days within 1 %. location_dwell_weekly (weeks from Monday 00:00 UTC, per
-- location) is built from stays, not from days, so a week's percentiles are exact too.
--
-- TimescaleDB (Community edition): continuous aggregates on the stays/crossings
-- hypertables with real-time aggregation and refresh policies whose window has no
-- start (start_offset NULL): a refresh re-materialises only the ranges invalidated by
-- writes, so a late event or a replayed year anywhere in history is picked up by the
-- next run. Plain PostgreSQL, TimescaleDB's Apache edition, and leg_time_daily on both
-- (legs is no hypertable): materialized views refreshed by storage.kpi_refresh.
--
-- KPIs leave out what a plausibility rule voided (docs/domain.md, "Plausibility") and say
-- how many they left out: location rollups count only plausible completed stays in their
-- dwell figures and add `excluded_count`; leg_time_daily counts only plausible legs and adds
-- `excluded_count`. Crossings carry no flag.

DROP MATERIALIZED VIEW location_dwell_weekly;
DROP MATERIALIZED VIEW location_dwell_daily;
DROP MATERIALIZED VIEW location_dwell_hourly;
DROP MATERIALIZED VIEW crossing_time_daily;
DROP MATERIALIZED VIEW crossing_time_hourly;
DROP MATERIALIZED VIEW leg_time_daily;
DROP FUNCTION kpi_histogram_percentile(bigint[], double precision, double precision[]);
DROP FUNCTION kpi_histogram_percentile(bigint[], double precision);
DROP AGGREGATE kpi_histogram_sum(bigint[]);
DROP FUNCTION kpi_histogram_add(bigint[], bigint[]);
DROP FUNCTION kpi_histogram_bucket(integer);
DROP FUNCTION kpi_histogram_edges();
DROP FUNCTION kpi_speed_histogram_bucket(double precision);
DROP FUNCTION kpi_speed_histogram_edges();

-- Legs and stays that a plausibility rule voids (corridor/plausibility.py): kept for the
-- record and the timeline, left out of KPIs.
ALTER TABLE stays ADD COLUMN implausible boolean NOT NULL DEFAULT false;
ALTER TABLE legs ADD COLUMN implausible boolean NOT NULL DEFAULT false;

-- Creates rollup `name` of `source` per `period` of `time_column` and `keys`, as a
-- continuous aggregate when `continuous`, else a materialized view with the unique index
-- REFRESH ... CONCURRENTLY needs (NULL modes or directions are values: NULLS NOT DISTINCT).
CREATE FUNCTION pg_temp.create_kpi_rollup(
    name text, source text, time_column text, period interval, keys text, measures text,
    continuous boolean, schedule interval)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    bucket text := CASE
        WHEN continuous THEN format('time_bucket(%L::interval, %I)', period, time_column)
        ELSE format('date_trunc(%L, %I, ''UTC'')',
                    CASE period WHEN '1 hour' THEN 'hour' WHEN '1 day' THEN 'day' ELSE 'week' END,
                    time_column)
    END;
    query text := format('SELECT %s AS bucket, %s, %s FROM %I GROUP BY %s, %s',
                         bucket, keys, measures, source, bucket, keys);
BEGIN
    IF continuous THEN
        EXECUTE format('CREATE MATERIALIZED VIEW %I WITH (timescaledb.continuous,'
                       ' timescaledb.materialized_only = false) AS %s WITH NO DATA', name, query);
        EXECUTE format('CREATE INDEX %I ON %I (bucket, %s)', name || '_key', name, keys);
        PERFORM add_continuous_aggregate_policy(name::regclass,
            start_offset => NULL, end_offset => period, schedule_interval => schedule);
    ELSE
        EXECUTE format('CREATE MATERIALIZED VIEW %I AS %s WITH DATA', name, query);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (bucket, %s) NULLS NOT DISTINCT',
                       name || '_key', name, keys);
    END IF;
END
$$;

-- Exact median and p90 of `value` over the rows matching `filter`, as `<prefix>_median<unit>`
-- and `<prefix>_p90<unit>`, plus its sketch when `sketch`.
CREATE FUNCTION pg_temp.kpi_quantiles(
    prefix text, value text, filter text, unit text, sketch boolean)
RETURNS text LANGUAGE sql AS $$
    SELECT format('(percentile_disc(0.5) WITHIN GROUP (ORDER BY %2$s) FILTER (WHERE %3$s))'
                  '::double precision AS %1$s_median%4$s, '
                  '(percentile_disc(0.9) WITHIN GROUP (ORDER BY %2$s) FILTER (WHERE %3$s))'
                  '::double precision AS %1$s_p90%4$s', prefix, value, filter, unit)
        || CASE WHEN sketch THEN format(
                  ', kpi_sketch_keys(array_agg(kpi_sketch_key(%2$s)) FILTER (WHERE %3$s))'
                  ' AS %1$s_sketch_keys, '
                  'kpi_sketch_counts(array_agg(kpi_sketch_key(%2$s)) FILTER (WHERE %3$s))'
                  ' AS %1$s_sketch_counts', prefix, value, filter)
           ELSE '' END
$$;

-- Counts, sum, mean, max, median, p90 (and sketch) of a duration over its completed rows.
CREATE FUNCTION pg_temp.kpi_durations(
    counted text, metric text, column_name text, sketch boolean, screened boolean)
RETURNS text LANGUAGE sql AS $$
    SELECT format('count(*) AS %1$s, '
                  'count(*) FILTER (WHERE %4$s) AS completed_count, '
                  'count(*) FILTER (WHERE status = ''in_progress'') AS in_progress_count, '
                  'sum(%3$s) FILTER (WHERE %4$s) AS %2$s_sum_seconds, '
                  'avg(%3$s::double precision) FILTER (WHERE %4$s) AS %2$s_mean_seconds, '
                  'max(%3$s) FILTER (WHERE %4$s) AS %2$s_max_seconds, ',
                  counted, metric, column_name,
                  format('status = ''completed'' AND %s IS NOT NULL', column_name)
                      || CASE WHEN screened THEN ' AND NOT implausible' ELSE '' END)
        || CASE WHEN screened
                THEN 'count(*) FILTER (WHERE implausible) AS excluded_count, ' ELSE '' END
        || pg_temp.kpi_quantiles(metric, column_name,
                  format('status = ''completed'' AND %s IS NOT NULL', column_name)
                      || CASE WHEN screened THEN ' AND NOT implausible' ELSE '' END,
                  '_seconds', sketch)
$$;

DO $rollups$
DECLARE
    continuous constant boolean :=
        (SELECT value FROM corridor_meta WHERE key = 'backend') = 'timescaledb'
        AND coalesce(current_setting('timescaledb.license', true), '') <> 'apache';
BEGIN
    IF NOT continuous AND (SELECT value FROM corridor_meta WHERE key = 'backend') = 'timescaledb' THEN
        RAISE NOTICE 'TimescaleDB Apache edition: KPI rollups are materialized views refreshed by refresh_kpi_views';
    END IF;
    PERFORM pg_temp.create_kpi_rollup('location_dwell_hourly', 'stays', 'arrived_at', '1 hour',
        'location, mode, direction',
        pg_temp.kpi_durations('stays_count', 'dwell', 'dwell_seconds', false, true),
        continuous, '5 minutes');
    PERFORM pg_temp.create_kpi_rollup('location_dwell_daily', 'stays', 'arrived_at', '1 day',
        'location, mode, direction',
        pg_temp.kpi_durations('stays_count', 'dwell', 'dwell_seconds', true, true),
        continuous, '15 minutes');
    PERFORM pg_temp.create_kpi_rollup('location_dwell_weekly', 'stays', 'arrived_at', '1 week',
        'location',
        pg_temp.kpi_durations('stays_count', 'dwell', 'dwell_seconds', false, true),
        continuous, '15 minutes');
    PERFORM pg_temp.create_kpi_rollup('crossing_time_hourly', 'crossings', 'arrived_at', '1 hour',
        'border_id, direction, mode',
        pg_temp.kpi_durations('crossings_count', 'tfi1', 'tfi1_seconds', false, false),
        continuous, '5 minutes');
    PERFORM pg_temp.create_kpi_rollup('crossing_time_daily', 'crossings', 'arrived_at', '1 day',
        'border_id, direction, mode',
        pg_temp.kpi_durations('crossings_count', 'tfi1', 'tfi1_seconds', true, false),
        continuous, '15 minutes');
    PERFORM pg_temp.create_kpi_rollup('leg_time_daily', 'legs', 'departed_at', '1 day',
        'from_location, to_location, mode',
        'count(*) FILTER (WHERE NOT implausible) AS legs_count, '
        'count(*) FILTER (WHERE implausible) AS excluded_count, '
        'sum(travel_seconds) FILTER (WHERE NOT implausible) AS travel_sum_seconds, '
        'avg(travel_seconds::double precision) FILTER (WHERE NOT implausible)'
        ' AS travel_mean_seconds, '
        'max(travel_seconds) FILTER (WHERE NOT implausible) AS travel_max_seconds, '
        || pg_temp.kpi_quantiles('travel', 'travel_seconds', 'NOT implausible', '_seconds', true)
        || ', count(swod_kmh) FILTER (WHERE NOT implausible) AS swod_count, '
        || pg_temp.kpi_quantiles('swod', 'swod_kmh', 'swod_kmh IS NOT NULL AND NOT implausible',
                                 '_kmh', true)
        || ', count(swd_kmh) FILTER (WHERE NOT implausible) AS swd_count, '
        || pg_temp.kpi_quantiles('swd', 'swd_kmh', 'swd_kmh IS NOT NULL AND NOT implausible',
                                 '_kmh', true),
        false, NULL);
END
$rollups$;
