"""The PostgreSQL harness itself: initdb from nothing, idempotent start, databases, stop."""

from __future__ import annotations

import shutil
import socket
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from infra.postgres.cluster import REPO_ROOT, ClusterConfig, PostgresCluster, StartOutcome

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scratch_cluster() -> Iterator[PostgresCluster]:
    # Under the repo's .run (not /tmp): the server user must be able to traverse the path.
    run_root = REPO_ROOT / ".run" / "postgres-test" / f"harness-{uuid.uuid4().hex[:8]}"
    cluster = PostgresCluster(
        ClusterConfig(
            name="scratch",
            port=_free_port(),
            run_root=run_root,
            synchronous_commit="off",
            password="scratch-" + uuid.uuid4().hex,
        )
    )
    try:
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(run_root, ignore_errors=True)


def test_lifecycle_from_nothing(scratch_cluster: PostgresCluster) -> None:
    assert not scratch_cluster.is_running()
    assert scratch_cluster.start() is StartOutcome.STARTED
    assert scratch_cluster.start() is StartOutcome.ALREADY_RUNNING
    scratch_cluster.wait_ready(timeout=30)

    scratch_cluster.create_database("harness_check")
    with psycopg.connect(scratch_cluster.dsn("harness_check")) as conn:
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
    scratch_cluster.drop_database("harness_check")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(scratch_cluster.dsn("harness_check")).close()

    assert scratch_cluster.stop() is True
    assert scratch_cluster.stop() is False
    assert not scratch_cluster.is_running()


def test_wrong_password_is_refused(scratch_cluster: PostgresCluster) -> None:
    scratch_cluster.start()
    scratch_cluster.wait_ready(timeout=30)
    wrong = scratch_cluster.dsn().replace(scratch_cluster.password(), "not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(wrong).close()
