"""Sending what is due: signed per Standard Webhooks, retried with backoff, then dead-lettered.

`DeliveryWorker.deliver_due` claims the due deliveries (the oldest pending one of each
endpoint and consignment, leased so that other dispatchers skip them), checks each
target again on the addresses its name now resolves to, and POSTs the stored body with
`webhook-id`, `webhook-timestamp` and `webhook-signature` (`v1,` + base64 HMAC-SHA256 of
`id.timestamp.body` under the endpoint's secret; during a rotation under the old secret
too, space-separated). A 2xx delivers; anything else (another status, a timeout, a
refused target; redirects are not followed) is retried after an exponentially growing,
jittered delay, and after `WEBHOOK_MAX_ATTEMPTS` attempts the delivery is a dead letter
the carrier can read and replay. A failing delivery holds back the later ones of the
same consignment to the same endpoint: order per consignment is kept.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from standardwebhooks import Webhook

from services.common.webhook_targets import TargetRefused, check_target
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.ports import WebhookOutbox
from storage.views import DueDelivery


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """The wait after failed attempt number `attempt` (1, 2, ...): doubling from the
        base, capped, and jittered down by up to half so that retries spread out."""
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (attempt - 1))
        return timedelta(seconds=ceiling * rng.uniform(0.5, 1.0))


def signature(secrets: tuple[str, ...], message_id: str, at: datetime, body: str) -> str:
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets)


class DeliveryWorker:
    def __init__(
        self,
        store: WebhookOutbox,
        client: httpx.AsyncClient,
        policy: RetryPolicy,
        insecure_hosts: frozenset[str],
        metrics: DispatcherMetrics,
        now: Callable[[], datetime],
        *,
        timeout: float,
        concurrency: int,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._client = client
        self._policy = policy
        self._insecure = insecure_hosts
        self._metrics = metrics
        self._now = now
        self._timeout = timeout
        self._concurrency = concurrency
        self._rng = rng or random.Random()  # noqa: S311 (jitter, no secret)

    async def deliver_due(self) -> int:
        """Sends every delivery due now (one round); returns how many were attempted."""
        now = self._now()
        # A lease outlasts one attempt by a margin: a dispatcher that dies mid-send
        # leaves its deliveries to another after the lease.
        lease_until = now + timedelta(seconds=self._timeout * 2 + 30)
        due = await self._store.claim_due(now, lease_until, self._concurrency)
        await asyncio.gather(*(self._attempt(item) for item in due))
        return len(due)

    async def _attempt(self, item: DueDelivery) -> None:
        delivery, endpoint = item.delivery, item.endpoint
        sent_at = self._now()
        status: int | None = None
        began = time.perf_counter()
        try:
            await check_target(endpoint.url, self._insecure, must_resolve=True)
            headers = {
                "content-type": "application/json",
                "user-agent": "middle-corridor-webhooks/1",
                "webhook-id": delivery.id,
                "webhook-timestamp": str(int(sent_at.timestamp())),
                "webhook-signature": signature(
                    endpoint.secrets(sent_at), delivery.id, sent_at, delivery.body
                ),
            }
            response = await self._client.post(
                endpoint.url, content=delivery.body.encode(), headers=headers, timeout=self._timeout
            )
            status = response.status_code
            if 200 <= status < 300:
                await self._store.delivered(delivery.seq, status, self._now())
                self._metrics.deliveries.labels(delivery.event_type).inc()
                return
            error, cause = f"answered {status}", f"http_{status // 100}xx"
        except TargetRefused as exc:
            error, cause = f"target refused: {exc}", "refused"
        except httpx.TimeoutException:
            error, cause = f"no answer within {self._timeout:g} s", "timeout"
        except httpx.HTTPError as exc:
            error, cause = f"{type(exc).__name__}: {exc}", "error"
        finally:
            self._metrics.delivery_seconds.observe(time.perf_counter() - began)
        self._metrics.failures.labels(cause).inc()
        attempt = delivery.attempts + 1
        retry_at = None
        if attempt < self._policy.max_attempts:
            retry_at = self._now() + self._policy.delay(attempt, self._rng)
        else:
            self._metrics.dead_letters.inc()
        await self._store.failed(delivery.seq, status, error, retry_at, self._now())
