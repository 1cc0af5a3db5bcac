"""Whether a Kafka cluster answers: one metadata round trip, bounded in time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient

from infra.kafka.broker_config import BrokerUnhealthyError


@dataclass(frozen=True)
class ClusterHealth:
    """What a successful metadata request returned."""

    bootstrap_servers: str
    cluster_id: str | None
    controller_id: int | None
    broker_ids: tuple[int, ...]


# The `timeout` parameters (ASYNC109) are deliberate: besides bounding the call they size the
# client's request timeout and name the limit in the error, which asyncio.timeout cannot.
async def check_health(bootstrap_servers: str, timeout: float = 5.0) -> ClusterHealth:  # noqa: ASYNC109
    """One metadata round trip against ``bootstrap_servers``, bounded by ``timeout`` seconds.

    An open port is not enough: a broker that is still starting (or anything else listening
    there) accepts TCP connections long before it can serve clients.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers,
        client_id="corridor-kafka-healthcheck",
        request_timeout_ms=max(1, int(timeout * 1000)),
    )
    try:
        async with asyncio.timeout(timeout):
            await admin.start()
            cluster = await admin.describe_cluster()
    except Exception as error:  # any failure to get metadata means "not healthy"
        raise BrokerUnhealthyError(
            f"no Kafka metadata from {bootstrap_servers} within {timeout:g}s: {error!r}"
        ) from error
    finally:
        await admin.close()
    return ClusterHealth(
        bootstrap_servers=bootstrap_servers,
        cluster_id=cluster.get("cluster_id"),
        controller_id=cluster.get("controller_id"),
        broker_ids=tuple(sorted(broker["node_id"] for broker in cluster.get("brokers", []))),
    )
