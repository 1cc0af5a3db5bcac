"""``python -m infra.kafka up|down|status|topics``: the dev broker from the command line."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Annotated

import typer

from infra.kafka.broker import KafkaBroker, StartOutcome
from infra.kafka.broker_config import BrokerConfig, BrokerError, BrokerUnhealthyError
from infra.kafka.health import check_health
from infra.kafka.topics import (
    DEFAULT_TOPIC_PREFIX,
    EnsureTopicsResult,
    TopicPartitionMismatchError,
    ensure_topics,
    topic_specs,
)

app = typer.Typer(help="Local single-node Kafka (KRaft) for the Middle Corridor tracker.")

PortOption = Annotated[int, typer.Option(help="Client (PLAINTEXT) port.")]
ControllerPortOption = Annotated[int, typer.Option(help="KRaft controller port.")]
PrefixOption = Annotated[str, typer.Option(help="Prefix of every topic name.")]
RunDirOption = Annotated[
    Path,
    typer.Option(help="Data, logs and pid file (the test broker uses .run/kafka-test)."),
]

DEFAULTS = BrokerConfig()


@app.callback()
def _configure_logging() -> None:
    # aiokafka logs every refused connection at ERROR; while waiting for a starting broker
    # those are expected, and the commands report failures themselves.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


def _broker(port: int, controller_port: int, run_dir: Path) -> KafkaBroker:
    return KafkaBroker(BrokerConfig(port=port, controller_port=controller_port, run_dir=run_dir))


def _print_topics(result: EnsureTopicsResult) -> None:
    for name in result.created:
        typer.echo(f"created  {name}")
    for name in result.already_present:
        typer.echo(f"present  {name}")
    for name, partitions in result.more_partitions_than_declared.items():
        typer.echo(f"note     {name} has {partitions} partitions, more than declared")


async def _apply_topics(bootstrap_servers: str, prefix: str) -> None:
    try:
        _print_topics(await ensure_topics(bootstrap_servers, topic_specs(prefix)))
    except TopicPartitionMismatchError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error


@app.command()
def up(
    port: PortOption = DEFAULTS.port,
    controller_port: ControllerPortOption = DEFAULTS.controller_port,
    run_dir: RunDirOption = DEFAULTS.run_dir,
    prefix: PrefixOption = DEFAULT_TOPIC_PREFIX,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for health.")] = 90.0,
) -> None:
    """Fetch the jars if needed, start the broker, wait until healthy, apply the topics."""
    broker = _broker(port, controller_port, run_dir)

    async def run() -> None:
        started = time.monotonic()
        outcome = await broker.start()
        health = await broker.wait_healthy(timeout=timeout)
        how = {
            StartOutcome.LAUNCHED: "started",
            StartOutcome.ALREADY_RUNNING: "already running",
            StartOutcome.REUSED_EXISTING: "reusing the broker already on this port",
        }[outcome]
        typer.echo(
            f"kafka {broker.config.kafka_version} {how}; cluster {health.cluster_id}, "
            f"healthy after {time.monotonic() - started:.1f}s "
            f"(logs: {broker.config.resolved_log_dir})"
        )
        await _apply_topics(broker.bootstrap_servers, prefix)

    try:
        asyncio.run(run())
    except BrokerError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from error
    # Last line, alone, so scripts can capture it: BOOTSTRAP=$(python -m infra.kafka up | tail -1)
    typer.echo(broker.bootstrap_servers)


@app.command()
def down(
    port: PortOption = DEFAULTS.port,
    controller_port: ControllerPortOption = DEFAULTS.controller_port,
    run_dir: RunDirOption = DEFAULTS.run_dir,
) -> None:
    """Stop the broker started by `up` (data is kept)."""
    stopped = _broker(port, controller_port, run_dir).stop()
    typer.echo("stopped" if stopped else "not running")


@app.command()
def status(
    port: PortOption = DEFAULTS.port,
    controller_port: ControllerPortOption = DEFAULTS.controller_port,
    run_dir: RunDirOption = DEFAULTS.run_dir,
) -> None:
    """Exit 0 if a broker answers metadata requests on the port, 1 otherwise."""
    broker = _broker(port, controller_port, run_dir)
    try:
        health = asyncio.run(check_health(broker.bootstrap_servers, timeout=5.0))
    except BrokerUnhealthyError as error:
        process = "running" if broker.is_running() else "not running"
        typer.echo(f"unhealthy ({process}): {error}", err=True)
        raise typer.Exit(code=1) from error
    typer.echo(
        f"healthy: {health.bootstrap_servers} cluster {health.cluster_id} "
        f"brokers {list(health.broker_ids)} controller {health.controller_id}"
    )


@app.command()
def topics(
    bootstrap_servers: Annotated[
        str, typer.Option(help="Broker to apply the topics to.")
    ] = DEFAULTS.bootstrap_servers,
    prefix: PrefixOption = DEFAULT_TOPIC_PREFIX,
) -> None:
    """Create the project's topics that do not exist yet."""
    asyncio.run(_apply_topics(bootstrap_servers, prefix))


if __name__ == "__main__":
    app()
