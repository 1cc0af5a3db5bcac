-- Shared helpers for the KPI aggregates: fixed-bucket histograms that roll up.
--
-- Percentiles of one bucket do not combine into the percentile of a longer range, but
-- histogram counts do (add them element-wise). Every aggregate therefore stores a
-- histogram of its durations on the same fixed edges, so a week or a year can be
-- answered approximately from hourly or daily rows without rescanning stays.

-- Lower edges, in seconds: 0, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h, 1 d, 2 d, 3 d, 5 d, 7 d,
-- 10 d, 14 d; the last bucket is open-ended.
CREATE FUNCTION kpi_histogram_edges() RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ARRAY[0, 1800, 3600, 7200, 14400, 28800, 43200, 86400, 172800, 259200,
                 432000, 604800, 864000, 1209600]
$$;

-- 1-based histogram slot of a duration (negative durations count in the first slot).
CREATE FUNCTION kpi_histogram_bucket(seconds integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(width_bucket(seconds, kpi_histogram_edges()), 1)
$$;

CREATE FUNCTION kpi_histogram_add(acc bigint[], histogram bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN acc IS NULL THEN histogram
        WHEN histogram IS NULL THEN acc
        ELSE ARRAY(
            SELECT coalesce(a, 0) + coalesce(b, 0)
            FROM unnest(acc, histogram) WITH ORDINALITY AS u(a, b, i)
            ORDER BY i)
    END
$$;

-- Element-wise sum: kpi_histogram_sum(dwell_histogram) over hourly rows gives the daily one.
CREATE AGGREGATE kpi_histogram_sum(bigint[]) (
    SFUNC = kpi_histogram_add,
    STYPE = bigint[],
    COMBINEFUNC = kpi_histogram_add,
    PARALLEL = SAFE
);

-- Approximate percentile from a histogram: linear interpolation inside the slot that
-- holds the target rank; the open-ended last slot answers with its lower edge.
CREATE FUNCTION kpi_histogram_percentile(histogram bigint[], fraction double precision)
RETURNS double precision
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    edges  integer[] := kpi_histogram_edges();
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
