"""What the write side stores besides events and timelines: alerts, API keys, and how far
the tracker has stored each partition of the events topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

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


Partition = tuple[str, int]  # (topic, partition)


class PartitionProgress(NamedTuple):
    """What one batch stored of one partition of the events topic."""

    event_time: datetime  # the newest event time read (the tracker's clock)
    next_offset: int  # the offset after the batch's last record of the partition


class DatabaseBehind(Exception):
    """The database holds less of a partition than this process stored there: it was
    restored from an earlier backup. Nothing of the batch was written."""

    def __init__(self, resume_at: Mapping[Partition, int]) -> None:
        super().__init__(f"the database is behind on {dict(resume_at)}")
        self.resume_at = dict(resume_at)  # per partition, the offset to read again from
