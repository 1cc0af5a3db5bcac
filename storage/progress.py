"""How far the tracker has stored each partition of the events topic, and the error a
database restored from an older backup raises."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

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
