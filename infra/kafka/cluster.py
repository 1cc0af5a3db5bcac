"""Kafka on loopback as one node or as a cluster of KRaft nodes, each a broker and a voter.

A cluster of three is how operators run Kafka: topics at replication factor 3 with
``min.insync.replicas=2``, so a write acknowledged with ``acks=all`` is on two brokers and
every partition stays writable with one broker down. Node ``i`` (from 1) listens on
``port + 2(i-1)`` and its controller on the port after it; its files are under
``<run_dir>/node-<i>``. All nodes are formatted with one cluster id, kept in
``<run_dir>/cluster.id``.

Typical use::

    kafka = KafkaCluster(BrokerConfig(port=19092, run_dir=...), brokers=3)
    await kafka.start()
    await kafka.wait_healthy(timeout=120)   # every node registered
    kafka.node(2).kill()                    # a crash
    await kafka.node(2).start()             # back
    kafka.stop()
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import time
from concurrent.futures import ThreadPoolExecutor

from infra.kafka.broker import KafkaBroker, StartOutcome, new_cluster_id
from infra.kafka.broker_config import BrokerConfig, BrokerUnhealthyError
from infra.kafka.health import ClusterHealth, check_health

CLUSTER_REPLICATION_FACTOR = 3
CLUSTER_MIN_INSYNC_REPLICAS = 2


def node_configs(base: BrokerConfig, brokers: int) -> list[BrokerConfig]:
    """The configuration of each node; ``base`` itself for a single node."""
    if brokers < 1:
        raise ValueError("a Kafka cluster needs at least one broker")
    if brokers == 1:
        return [base]
    quorum = tuple((index + 1, base.port + 2 * index + 1) for index in range(brokers))
    return [
        dataclasses.replace(
            base,
            node_id=node_id,
            port=controller_port - 1,
            controller_port=controller_port,
            run_dir=base.run_dir / f"node-{node_id}",
            data_dir=None,
            log_dir=None,
            quorum=quorum,
            replication_factor=min(brokers, CLUSTER_REPLICATION_FACTOR),
            min_insync_replicas=min(brokers - 1, CLUSTER_MIN_INSYNC_REPLICAS),
        )
        for node_id, controller_port in quorum
    ]


class KafkaCluster:
    """Starts, watches and stops the nodes of one loopback cluster (or one node)."""

    def __init__(self, base: BrokerConfig, brokers: int = 1) -> None:
        self.base = base
        self.brokers = brokers
        self.nodes = [KafkaBroker(config) for config in node_configs(base, brokers)]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        return self.nodes[0].config.replication_factor

    @property
    def min_insync_replicas(self) -> int:
        return self.nodes[0].config.min_insync_replicas

    def node(self, node_id: int) -> KafkaBroker:
        return self.nodes[node_id - 1]

    def ensure_jars(self) -> None:
        self.nodes[0].ensure_jars()

    async def start(self, *, fresh_data: bool = False) -> StartOutcome:
        """Launch every node not running yet (without waiting for health)."""
        if self.brokers == 1:
            return await self.nodes[0].start(fresh_data=fresh_data)
        if fresh_data and not self.is_running():
            shutil.rmtree(self.base.run_dir, ignore_errors=True)
        cluster_id = self._cluster_id()
        self.nodes = [
            KafkaBroker(dataclasses.replace(node.config, cluster_id=cluster_id))
            for node in self.nodes
        ]
        outcomes = [await node.start() for node in self.nodes]
        if StartOutcome.LAUNCHED in outcomes:
            return StartOutcome.LAUNCHED
        return outcomes[0]

    async def wait_healthy(self, timeout: float = 120.0) -> ClusterHealth:  # noqa: ASYNC109
        """Wait until a metadata request lists every node of the cluster."""
        deadline = time.monotonic() + timeout
        expected = tuple(node.config.node_id for node in self.nodes)
        last = "no answer yet"
        while time.monotonic() < deadline:
            for node in self.nodes:
                node.check_launched_alive()
            try:
                health = await check_health(self.bootstrap_servers, timeout=5.0)
            except BrokerUnhealthyError as error:
                last = str(error)
            else:
                if not self.nodes[0].answered_by_us(health):
                    last = f"another cluster ({health.cluster_id}) answers"
                elif health.broker_ids == expected:
                    return health
                else:
                    last = f"brokers {list(health.broker_ids)} of {list(expected)} registered"
            await asyncio.sleep(0.5)
        raise BrokerUnhealthyError(
            f"cluster {self.bootstrap_servers} not healthy after {timeout:g}s ({last})"
        )

    def is_running(self) -> bool:
        return any(node.is_running() for node in self.nodes)

    def stop(self) -> bool:
        """Stop every node at once: one by one, the last ones would wait for a quorum."""
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            return any(list(pool.map(lambda node: node.stop(), self.nodes)))

    def _cluster_id(self) -> str:
        path = self.base.run_dir / "cluster.id"
        if path.is_file():
            return path.read_text().strip()
        cluster_id = new_cluster_id()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{cluster_id}\n")
        return cluster_id
