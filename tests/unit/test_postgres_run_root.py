"""Where a cluster keeps its files when the checkout is closed to the server's user."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from infra.postgres.cluster import ClusterConfig
from infra.postgres.run_root import reachable_root

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="only root hands the server to another user"
)


def test_an_open_checkout_keeps_its_run_root() -> None:
    # Under the system temp dir itself: pytest's own tmp_path lives in a 0700 directory.
    checkout = Path(tempfile.mkdtemp())
    try:
        checkout.chmod(0o755)
        root = checkout / ".run" / "postgres"
        reachable_root.cache_clear()
        assert ClusterConfig(name="t", run_root=root).run_dir == root / "t"
    finally:
        shutil.rmtree(checkout)


def test_a_closed_checkout_puts_the_cluster_where_the_server_can_reach_it(
    tmp_path: Path,
) -> None:
    # `mktemp -d` makes 0700 directories; the server runs as `postgres`, not root.
    closed = tmp_path / "clone"
    closed.mkdir(mode=0o700)
    root = closed / ".run" / "postgres"
    reachable_root.cache_clear()
    run_dir = ClusterConfig(name="t", run_root=root).run_dir
    assert not run_dir.is_relative_to(closed)
    assert run_dir == ClusterConfig(name="t", run_root=root).run_dir  # every caller agrees
    assert run_dir.name == "t"
    other = ClusterConfig(name="t", run_root=tmp_path / "clone2" / ".run").run_dir
    assert run_dir != other  # one place per checkout
