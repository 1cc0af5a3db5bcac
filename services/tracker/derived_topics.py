"""Derived topics: consignment updates (compacted, by consignment id) and alerts."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from corridor.alerts import Alert
from corridor.model import Timeline
from storage.rows import AlertRow


def consignment_update(timeline: Timeline) -> dict[str, Any]:
    """The latest word on a consignment, as downstream consumers see it."""
    open_stay = next((s for s in reversed(timeline.stays) if s.departed_at is None), None)
    return {
        "consignment_id": timeline.consignment_id,
        "carrier_id": timeline.carrier_id,
        "state": timeline.state.value,
        "current_location": timeline.current_location,
        "last_event_at": timeline.last_event_at.isoformat(),
        "route_id": timeline.route_id,
        "event_count": len(timeline.events),
        "stays_completed": sum(s.departed_at is not None for s in timeline.stays),
        "waiting_since": open_stay.arrived_at.isoformat() if open_stay else None,
        "anomalies": len(timeline.anomalies),
    }


def alert_message(alert: Alert | AlertRow) -> dict[str, Any]:
    """An alert as the alerts topic carries it: a domain alert, or one the tracker raised."""
    return {
        "kind": str(alert.kind),
        "consignment_id": alert.consignment_id,
        "carrier_id": alert.carrier_id,
        "location": alert.location,
        "occurred_at": alert.occurred_at.isoformat(),
        "detail": alert.detail,
        "dedup_key": alert.dedup_key,
    }


def encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


class FaustDerivedTopics:
    """Sends through the Faust app's producer; consumers dedupe by key (at-least-once)."""

    def __init__(self, updates_topic: Any, alerts_topic: Any) -> None:
        self._updates = updates_topic
        self._alerts = alerts_topic

    async def publish(self, timelines: Sequence[Timeline], alerts: Sequence[Alert]) -> None:
        # Queued together rather than one after another; per-key order is the producer's.
        await asyncio.gather(
            *(
                self._updates.send(
                    key=t.consignment_id.encode(), value=encode(consignment_update(t))
                )
                for t in timelines
            ),
            *(
                self._alerts.send(key=a.consignment_id.encode(), value=encode(alert_message(a)))
                for a in alerts
            ),
        )
