-- The quantile sketch of corridor.sketch in SQL, same constants (KEYS_PER_E = 50,
-- ZERO_KEY = -1000000): a value x > 0 falls in bucket ceil(50 ln x), bucket k answers
-- 2 e^(k/50) / (1 + e^(1/50)), within 1 % of every value in it. Rollups store a sketch
-- as two aligned arrays, keys ascending and their counts; sketches merge by adding the
-- counts of equal keys. Quantiles are nearest rank (percentile_disc) on every path.
-- tests/integration/test_storage_sketch.py holds these equal to the Python ones.
--
-- kpi_sketch_key, kpi_sketch_value, kpi_sketch_keys and kpi_sketch_counts call only
-- pg_catalog, so they work under the search_path that TimescaleDB (>= 2.10) and
-- PostgreSQL 17 lock to pg_catalog, pg_temp while materialising; kpi_sketch_quantile
-- calls kpi_sketch_value and therefore carries its own search_path.

CREATE FUNCTION kpi_sketch_key(x double precision) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN x <= 0 THEN -1000000 ELSE ceil(50 * ln(x))::integer END
$$;

CREATE FUNCTION kpi_sketch_value(k integer) RETURNS double precision
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE WHEN k = -1000000 THEN 0
                ELSE 2 * exp(k::double precision / 50) / (1 + exp(1::double precision / 50))
           END
$$;

-- A sketch from the keys of its values (array_agg(kpi_sketch_key(v)) in a rollup).
CREATE FUNCTION kpi_sketch_keys(keys integer[]) RETURNS integer[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(DISTINCT k ORDER BY k) FROM unnest(keys) AS k
$$;

CREATE FUNCTION kpi_sketch_counts(keys integer[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_agg(n ORDER BY k)
    FROM (SELECT k, count(*) AS n FROM unnest(keys) AS k GROUP BY k) AS per_key
$$;

-- Nearest-rank quantile of a sketch given as keys and counts (equal keys may repeat:
-- the arrays of several sketches concatenated are their merge).
CREATE FUNCTION kpi_sketch_quantile(keys integer[], counts bigint[], fraction double precision)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path FROM CURRENT AS $$
    SELECT kpi_sketch_value(k)
    FROM (
        SELECT k, sum(n) OVER (ORDER BY k) AS seen, sum(n) OVER () AS total
        FROM (SELECT k, sum(n) AS n FROM unnest(keys, counts) AS u(k, n) GROUP BY k) AS merged
    ) AS ranked
    WHERE seen >= greatest(1, ceil(fraction * total::double precision))
    ORDER BY k
    LIMIT 1
$$;
