"""What the write side stores besides events and timelines: alerts and API keys."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from corridor.journey import Anomaly
from storage.views import ApiKeyRole

API_KEY_MARKER = "mck_"
_PREFIX_LENGTH = len(API_KEY_MARKER) + 8


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to raise once: a second one with the same ``dedup_key`` is ignored."""

    kind: str
    occurred_at: datetime
    raised_at: datetime
    consignment_id: str | None = None
    carrier_id: str | None = None
    location: str | None = None
    detail: str = ""
    dedup_key: str = field(default="")

    @property
    def key(self) -> str:
        if self.dedup_key:
            return self.dedup_key
        parts = (self.kind, self.consignment_id or "", self.location or "")
        return "|".join((*parts, self.occurred_at.isoformat()))


def alert_from_anomaly(anomaly: Anomaly, carrier_id: str, raised_at: datetime) -> NewAlert:
    """An anomaly is raised once per (kind, consignment, offending event)."""
    return NewAlert(
        kind=anomaly.kind.value,
        occurred_at=anomaly.occurred_at,
        raised_at=raised_at,
        consignment_id=anomaly.consignment_id,
        carrier_id=carrier_id,
        location=anomaly.location,
        detail=anomaly.detail,
        dedup_key=f"{anomaly.kind.value}|{anomaly.consignment_id}|{anomaly.event_id}",
    )


@dataclass(frozen=True, slots=True)
class GeneratedApiKey:
    """A new key: ``plain`` is shown to its owner once and never stored."""

    plain: str = field(repr=False)
    prefix: str
    key_hash: str


def hash_api_key(plain: str) -> str:
    """SHA-256 is enough: the keys are 256 random bits, not guessable passwords."""
    return hashlib.sha256(plain.encode()).hexdigest()


def generate_api_key() -> GeneratedApiKey:
    plain = API_KEY_MARKER + secrets.token_urlsafe(32)
    return GeneratedApiKey(plain=plain, prefix=plain[:_PREFIX_LENGTH], key_hash=hash_api_key(plain))


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    role: ApiKeyRole
    prefix: str
    key_hash: str
    allowed_locations: tuple[str, ...] | None = None
    carrier_id: str | None = None
