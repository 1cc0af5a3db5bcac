"""Where a local Kafka broker listens and keeps its files, the Kafka version pinned in
``pom.xml``, and the harness's errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

HARNESS_DIR = Path(__file__).resolve().parent
REPO_ROOT = HARNESS_DIR.parents[1]
POM_FILE = HARNESS_DIR / "pom.xml"
SERVER_PROPERTIES_TEMPLATE = HARNESS_DIR / "server.properties.template"
LOG4J2_CONFIG = HARNESS_DIR / "log4j2.properties"
DEFAULT_CACHE_DIR = REPO_ROOT / ".cache" / "kafka"
DEFAULT_RUN_DIR = REPO_ROOT / ".run" / "kafka"
# Lists the resolved jars; its presence means a previous Maven run completed, so later starts
# skip Maven entirely (a warm start must not pay Maven's ~5-10 s JVM and resolution cost).
CLASSPATH_MARKER_NAME = "classpath.txt"


class BrokerError(RuntimeError):
    """The harness could not resolve, start, stop or reach the broker."""


class BrokerUnhealthyError(BrokerError):
    """No broker answered a metadata request at the given bootstrap address in time."""


class BrokerPortTakenError(BrokerError):
    """Another server bound one of the broker's ports between the free-port check and the
    broker's own bind: pick other ports."""


def pinned_kafka_version(pom_file: Path = POM_FILE) -> str:
    """The Kafka version pinned in ``pom.xml``: the single place the version is chosen."""
    match = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", pom_file.read_text())
    if match is None:
        raise BrokerError(f"no <kafka.version> property in {pom_file}")
    return match.group(1)


@dataclass(frozen=True)
class BrokerConfig:
    """Where the broker listens and keeps its files.

    ``data_dir`` and ``log_dir`` default to ``<run_dir>/data`` and ``<run_dir>/logs``.
    """

    host: str = "127.0.0.1"
    port: int = 19092
    controller_port: int = 19093
    node_id: int = 1
    run_dir: Path = DEFAULT_RUN_DIR
    data_dir: Path | None = None
    log_dir: Path | None = None
    cache_dir: Path = DEFAULT_CACHE_DIR
    kafka_version: str = field(default_factory=pinned_kafka_version)
    # The machine has two cores and also runs PostgreSQL and the services; the broker of a
    # dev/test stack needs far less than Kafka's default 1 GiB heap.
    max_heap: str = "512m"
    # How long the group coordinator holds a new group's first rebalance for more members.
    # Kafka's default is 3 s; a test's consumer group has one member and should start at
    # once. The benchmark of several workers waits 1 s (see bench/tracker_throughput.py).
    initial_rebalance_delay_ms: int = 0
    # A node of a cluster: every voter as (node id, controller port), the cluster id all
    # nodes are formatted with, and the replication its topics get (infra/kafka/cluster.py).
    # Empty, None, 1 and 1: a single node that is its own quorum.
    quorum: tuple[tuple[int, int], ...] = ()
    cluster_id: str | None = None
    replication_factor: int = 1
    min_insync_replicas: int = 1

    def __post_init__(self) -> None:
        # Absolute paths: the process check matches the broker's command line, which holds
        # absolute paths, and the broker runs with the run dir as its working directory.
        for name in ("run_dir", "data_dir", "log_dir", "cache_dir"):
            path = getattr(self, name)
            if path is not None:
                object.__setattr__(self, name, Path(path).resolve())

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def quorum_voters(self) -> str:
        voters = self.quorum or ((self.node_id, self.controller_port),)
        return ",".join(f"{node}@{self.host}:{port}" for node, port in voters)

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir if self.data_dir is not None else self.run_dir / "data"

    @property
    def resolved_log_dir(self) -> Path:
        return self.log_dir if self.log_dir is not None else self.run_dir / "logs"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "kafka.pid"

    @property
    def server_properties_file(self) -> Path:
        return self.run_dir / "server.properties"

    @property
    def jar_dir(self) -> Path:
        return self.cache_dir / self.kafka_version / "lib"

    @property
    def classpath_marker(self) -> Path:
        return self.cache_dir / self.kafka_version / CLASSPATH_MARKER_NAME
