"""From the derived topics to the outbox: which endpoint is told what about which consignment.

`WebhookIntake.take` reads a batch of consignment updates and alerts, records each updated
consignment's ETA (for the dashboards) and, for each
endpoint of the consignment's carrier (never another's), decides the notifications
(`corridor.notifications.decide`) and stores them with what the endpoint will then know,
in one transaction per record. Taking the same record twice adds nothing: the endpoint
already knows, and each delivery is stored once per endpoint and dedup key. Offsets are
committed only after, so a crash re-reads, never skips.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from corridor.eta import ArrivalEstimate
from corridor.notifications import EVENT_TYPES, ChangeKind, Notified, decide
from services.dispatcher.metrics import DispatcherMetrics
from services.dispatcher.ports import EtaRecords, WebhookOutbox
from storage.rows import DeliveryRow
from storage.views import EndpointView

EtaOf = Callable[[str, str | None], Awaitable[ArrivalEstimate | None]]
"""(consignment id, carrier id if named) -> its ETA now, or None."""


class Topic(StrEnum):
    UPDATES = "consignment-updates"
    ALERTS = "alerts"


@dataclass(frozen=True, slots=True)
class DerivedRecord:
    topic: Topic
    value: bytes


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def eta_document(estimate: ArrivalEstimate | None) -> dict[str, Any] | None:
    if estimate is None:
        return None
    return {
        "destination": estimate.destination,
        "as_of": _iso(estimate.as_of),
        "arrival_p50": _iso(estimate.arrival_p50),
        "arrival_p90": _iso(estimate.arrival_p90),
        "unavailable": estimate.unavailable.value if estimate.unavailable else None,
        "reason": estimate.reason,
    }


def body(event_type: str, timestamp: str, data: dict[str, Any]) -> str:
    """A Standard Webhooks payload: type, timestamp, data."""
    document = {"type": event_type, "timestamp": timestamp, "data": data}
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def delivery(
    endpoint: EndpointView, consignment_id: str, event_type: str, key: str, text: str
) -> DeliveryRow:
    # The same notification always gets the same webhook-id, so receivers can dedupe.
    message_id = "msg_" + uuid5(NAMESPACE_URL, f"{endpoint.id}/{key}").hex
    return DeliveryRow(message_id, endpoint.id, consignment_id, event_type, key, text)


class WebhookIntake:
    def __init__(
        self, store: WebhookOutbox, eta_of: EtaOf, etas: EtaRecords, metrics: DispatcherMetrics
    ) -> None:
        self._store = store
        self._eta_of = eta_of
        self._etas = etas
        self._metrics = metrics

    async def take(self, records: Sequence[DerivedRecord]) -> int:
        """Queues the notifications of a batch; returns how many were new."""
        added = 0
        for record in records:
            document = json.loads(record.value)
            if record.topic is Topic.UPDATES:
                added += await self._update(document)
            else:
                added += await self._alert(document)
        return added

    async def _update(self, update: dict[str, Any]) -> int:
        carrier: str | None = update.get("carrier_id")
        consignment: str = update["consignment_id"]
        # Every consignment's, subscribed or not: the dashboards show it.
        estimate = await self._eta_of(consignment, carrier)
        await self._etas.record(consignment, estimate)
        endpoints = await self._store.subscribed_endpoints(carrier) if carrier else ()
        if not carrier or not endpoints:
            return 0
        eta_p50 = estimate.arrival_p50 if estimate is not None else None
        current = Notified(update["state"], update.get("current_location"), eta_p50)
        known = await self._store.notified([e.id for e in endpoints], consignment)
        deliveries: list[DeliveryRow] = []
        notified: list[tuple[Any, str, Notified]] = []
        for endpoint in endpoints:
            previous = known.get(endpoint.id)
            threshold = timedelta(seconds=endpoint.eta_threshold_seconds)
            decision = decide(previous, current, frozenset(endpoint.kinds), threshold)
            notified.append((endpoint.id, consignment, decision.notified))
            for change in decision.changes:
                event_type = EVENT_TYPES[change]
                data = {
                    "consignment_id": consignment,
                    "state": current.state,
                    "previous_state": previous.state if previous else None,
                    "current_location": current.location,
                    "previous_location": previous.location if previous else None,
                    "last_event_at": update.get("last_event_at"),
                    "eta": eta_document(estimate),
                }
                # Keyed by what changed to what, at which event: a re-read adds nothing.
                value = (
                    _iso(current.eta_p50)
                    if change is ChangeKind.ETA
                    else (current.state if change is ChangeKind.STATE else current.location)
                )
                key = f"{change.value}:{consignment}:{update.get('last_event_at')}:{value}"
                text = body(event_type, str(update.get("last_event_at")), data)
                deliveries.append(delivery(endpoint, consignment, event_type, key, text))
        added = await self._store.enqueue(deliveries, notified)
        for d in deliveries:
            self._metrics.enqueued.labels(d.event_type).inc()
        return added

    async def _alert(self, alert: dict[str, Any]) -> int:
        carrier, consignment = alert.get("carrier_id"), alert.get("consignment_id")
        if not carrier or not consignment:
            return 0  # alerts about a location alone are operators'
        endpoints = [
            e
            for e in await self._store.subscribed_endpoints(carrier)
            if ChangeKind.ALERT in e.kinds
        ]
        event_type = EVENT_TYPES[ChangeKind.ALERT]
        data = {
            k: alert.get(k) for k in ("kind", "consignment_id", "location", "occurred_at", "detail")
        }
        deliveries = [
            delivery(
                e,
                consignment,
                event_type,
                f"alert:{alert.get('dedup_key')}",
                body(event_type, str(alert.get("occurred_at")), data),
            )
            for e in endpoints
        ]
        for d in deliveries:
            self._metrics.enqueued.labels(d.event_type).inc()
        return await self._store.enqueue(deliveries, ()) if deliveries else 0
