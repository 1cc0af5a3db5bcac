"""The broker's rendered configuration: what tests and the benchmark each start with."""

from __future__ import annotations

from pathlib import Path

from bench.tracker_throughput import BENCH_BROKER
from infra.kafka.broker import KafkaBroker
from infra.kafka.broker_config import BrokerConfig


def rendered(config: BrokerConfig) -> dict[str, str]:
    broker = KafkaBroker(config)
    broker._write_server_properties()
    lines = config.server_properties_file.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_a_test_broker_rebalances_a_new_group_at_once(tmp_path: Path) -> None:
    properties = rendered(BrokerConfig(run_dir=tmp_path))

    assert properties["group.initial.rebalance.delay.ms"] == "0"
    assert properties["listeners"].endswith(":19092,CONTROLLER://127.0.0.1:19093")


def test_the_benchmark_broker_waits_a_second_for_more_workers(tmp_path: Path) -> None:
    # Workers launched together share the first assignment instead of one taking all;
    # a second covers their launch, where Kafka's default 3 s held every run for 6 s.
    config = BrokerConfig(
        run_dir=tmp_path, initial_rebalance_delay_ms=BENCH_BROKER.initial_rebalance_delay_ms
    )

    assert rendered(config)["group.initial.rebalance.delay.ms"] == "1000"


def test_a_cluster_node_votes_with_all_three_and_replicates_three_times(tmp_path: Path) -> None:
    from infra.kafka.cluster import node_configs

    nodes = node_configs(BrokerConfig(port=19092, run_dir=tmp_path), brokers=3)
    second = rendered(nodes[1])

    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert second["controller.quorum.voters"] == voters
    assert second["node.id"] == "2"
    assert second["listeners"] == "PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095"
    assert second["log.dirs"] == str(tmp_path / "node-2" / "data")
    assert second["default.replication.factor"] == "3"
    assert second["offsets.topic.replication.factor"] == "3"
    assert second["min.insync.replicas"] == "2"


def test_a_single_broker_is_its_own_quorum_and_keeps_one_replica(tmp_path: Path) -> None:
    properties = rendered(BrokerConfig(run_dir=tmp_path))

    assert properties["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert properties["default.replication.factor"] == "1"
    assert properties["min.insync.replicas"] == "1"
