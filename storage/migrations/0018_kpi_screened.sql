-- KPIs leave out what a plausibility rule voided (0017's `implausible` flags; docs/domain.md,
-- "Plausibility") and say how many they left out: the location rollups count only
-- plausible completed stays in their dwell figures and add `excluded_count`; the leg
-- rollup counts only plausible legs and adds `excluded_count`. Crossings carry no flag.
--
-- The rollups of 0012 are dropped and rebuilt from its definition with the filter: 0012
-- is applied (and checksummed) wherever it ran, so its helpers are restated here, changed
-- only where they screen.

DROP MATERIALIZED VIEW location_dwell_weekly;
DROP MATERIALIZED VIEW location_dwell_daily;
DROP MATERIALIZED VIEW location_dwell_hourly;
DROP MATERIALIZED VIEW crossing_time_daily;
DROP MATERIALIZED VIEW crossing_time_hourly;
DROP MATERIALIZED VIEW leg_time_daily;

-- Creates rollup `name` of `source` per `period` of `time_column` and `keys`, as a
-- continuous aggregate when `continuous`, else a materialized view with the unique index
-- REFRESH ... CONCURRENTLY needs (NULL modes or directions are values: NULLS NOT DISTINCT).
CREATE OR REPLACE FUNCTION pg_temp.create_kpi_rollup(
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
CREATE OR REPLACE FUNCTION pg_temp.kpi_quantiles(
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
CREATE OR REPLACE FUNCTION pg_temp.kpi_durations(
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
