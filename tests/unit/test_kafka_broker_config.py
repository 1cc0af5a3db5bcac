"""The broker's rendered configuration: what tests and the benchmark each start with."""

from __future__ import annotations

from pathlib import Path

from bench.tracker_throughput import BENCH_BROKER
from infra.kafka.broker import BrokerConfig, KafkaBroker


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
