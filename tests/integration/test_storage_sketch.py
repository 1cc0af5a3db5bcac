"""The SQL sketch functions (migration 0011) are corridor.sketch's, bucket for bucket, and
every KPI function works under the search_path that TimescaleDB and PostgreSQL 17 lock
while materialising (pg_catalog, pg_temp)."""

from __future__ import annotations

import math
import random

import psycopg
import pytest

from corridor import sketch
from corridor.sketch import Sketch

pytest_plugins = ["tests.fixtures.postgres"]
pytestmark = pytest.mark.integration

FRACTIONS = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 1.0)


def samples() -> list[float]:
    """Dwell-like seconds from 1 min to 60 days, bucket edges and their neighbours, zero,
    and speeds in km/h."""
    rng = random.Random(23)
    values = [math.exp(rng.uniform(math.log(60), math.log(60 * 86_400))) for _ in range(3000)]
    values += [float(rng.randint(60, 6 * 3600)) for _ in range(2000)]
    edges = [math.exp(k / sketch.KEYS_PER_E) for k in range(200, 780)]
    values += [v * f for v in edges for f in (1 - 1e-12, 1.0, 1 + 1e-12)]
    values += [0.0, 0.004, 0.5, 1.0, 2.5, 47.3, 80.0]
    return values


def test_python_and_sql_give_the_same_bucket_keys_and_values(database_url: str) -> None:
    values = samples()
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT v, kpi_sketch_key(v), kpi_sketch_value(kpi_sketch_key(v))"
            " FROM unnest(%s::double precision[]) AS v",
            (values,),
        ).fetchall()
    assert len(rows) == len(values)
    for value, key, answer in rows:
        assert key == sketch.key(value), value
        assert answer == sketch.value(sketch.key(value)), value


def test_python_and_sql_give_the_same_sketch_and_percentiles(database_url: str) -> None:
    values = samples()
    with psycopg.connect(database_url) as conn:
        keys, counts = conn.execute(
            "SELECT kpi_sketch_keys(array_agg(kpi_sketch_key(v))),"
            " kpi_sketch_counts(array_agg(kpi_sketch_key(v)))"
            " FROM unnest(%s::double precision[]) AS v",
            (values,),
        ).fetchone() or (None, None)
        python = Sketch.of(values)
        assert dict(zip(keys, counts, strict=True)) == python.counts
        for fraction in FRACTIONS:
            row = conn.execute(
                "SELECT kpi_sketch_quantile(%s, %s, %s),"
                " percentile_disc(%s) WITHIN GROUP (ORDER BY v)"
                " FROM unnest(%s::double precision[]) AS v",
                (keys, counts, fraction, fraction, values),
            ).fetchone()
            assert row is not None
            in_sql, exact_in_sql = row
            assert in_sql == python.quantile(fraction), fraction
            # The exact paths agree on the definition, and the sketch is within 1 %.
            assert exact_in_sql == sorted(values)[sketch.rank(fraction, len(values)) - 1]
            assert in_sql == pytest.approx(exact_in_sql, rel=0.01, abs=0.005)


def test_an_empty_sketch_has_no_percentile(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT kpi_sketch_quantile(NULL, NULL, 0.5)").fetchone()
    assert row == (None,)
    assert Sketch.from_arrays(None, None).quantile(0.5) is None


def test_kpi_functions_and_refreshes_work_under_a_locked_search_path(
    fresh_database_url: str,
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
        assert schema is not None
        conn.execute("SET search_path = pg_catalog, pg_temp")
        quantile = conn.execute(
            f"SELECT {schema[0]}.kpi_sketch_quantile(ARRAY[445, 465], ARRAY[1, 3]::bigint[], 0.5)"
        ).fetchone()
        assert quantile == (sketch.value(465),)
        views = conn.execute(
            "SELECT matviewname FROM pg_matviews WHERE schemaname = %s", (schema[0],)
        ).fetchall()
        for (view,) in views:  # PostgreSQL 17 refreshes under this very search_path
            conn.execute(f"REFRESH MATERIALIZED VIEW {schema[0]}.{view}")
