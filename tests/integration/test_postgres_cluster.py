"""The PostgreSQL harness itself: initdb from nothing, idempotent start, databases, stop."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import psycopg
import pytest

from infra.postgres.cluster import ClusterError, PostgresCluster, StartOutcome
from tests.fixtures.postgres import scratch_cluster

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch() -> Iterator[PostgresCluster]:
    with scratch_cluster("scratch") as cluster:
        yield cluster


def test_lifecycle_from_nothing(scratch: PostgresCluster) -> None:
    assert not scratch.is_running()
    assert scratch.start() is StartOutcome.STARTED
    assert scratch.start() is StartOutcome.ALREADY_RUNNING
    scratch.wait_ready(timeout=30)

    scratch.create_database("harness_check")
    with psycopg.connect(scratch.dsn("harness_check")) as conn:
        settings: dict[str, str] = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN"
                " ('listen_addresses', 'fsync', 'synchronous_commit', 'TimeZone')"
            ).fetchall()
        )
    assert settings == {
        "listen_addresses": "127.0.0.1",
        "fsync": "on",
        "synchronous_commit": "off",
        "TimeZone": "UTC",
    }
    scratch.drop_database("harness_check")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(scratch.dsn("harness_check")).close()

    assert scratch.stop() is True
    assert scratch.stop() is False
    assert not scratch.is_running()


def test_wrong_password_is_refused(scratch: PostgresCluster) -> None:
    scratch.start()
    scratch.wait_ready(timeout=30)
    wrong = scratch.dsn().replace(scratch.password(), "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(wrong).close()


def test_a_port_bound_after_the_check_is_reported_as_taken(scratch: PostgresCluster) -> None:
    # A socket bound but not listening refuses connections, so the pre-start check passes and
    # only the server's own bind finds the port gone: the race two checkouts can run into.
    with socket.socket() as squatter:
        squatter.bind((scratch.config.host, scratch.config.port))
        with pytest.raises(ClusterError, match="is taken"):
            scratch.start(timeout=20)
    assert not scratch.is_running()
