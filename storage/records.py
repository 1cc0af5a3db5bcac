"""What the write side stores besides events and timelines: alerts and API keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.views import ApiKeyRole


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


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    role: ApiKeyRole
    prefix: str
    key_hash: str
    allowed_locations: tuple[str, ...] | None = None
    carrier_id: str | None = None
