"""Tracker settings (environment variables, documented in .env.example)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from services.common.settings import DatabaseSettings, KafkaSettings


class TrackerSettings(KafkaSettings, DatabaseSettings):
    tracker_app_id: str = Field(default="corridor-tracker", pattern=r"^[A-Za-z0-9._-]+$")
    tracker_store: str = Field(
        default="rocksdb://", description="Faust table store: rocksdb:// (rocksdict) or memory://"
    )
    tracker_data_dir: Path = Field(default=Path(".run/tracker"))
    # faust's own web server (its /stats pages, table queries between workers): nothing of
    # the tracker uses it, so it is off unless asked for, and then on loopback by default.
    tracker_web_enabled: bool = False
    tracker_web_bind: str = Field(default="127.0.0.1", min_length=1)
    tracker_web_port: int = Field(default=6066, ge=1, le=65535)
    # While the tracker keeps up, a batch closes once its first record has been in Kafka
    # for the latency budget (TRACKER_BATCH_SECONDS) or once it holds
    # TRACKER_LIVE_BATCH_SIZE events; while it reads behind the log, it keeps filling up
    # to TRACKER_BATCH_SIZE for at most the backlog window (one rebuild for more of each
    # consignment's events). services/tracker/batch_window.py.
    tracker_batch_size: int = Field(default=100_000, ge=1, le=100_000)
    tracker_live_batch_size: int = Field(default=2_000, ge=1, le=100_000)
    tracker_batch_seconds: float = Field(default=0.15, gt=0, le=30)
    tracker_backlog_batch_seconds: float = Field(default=15.0, gt=0, le=60)
    # Records fetched but not yet taken (~2 KB each). Faust pauses a partition whose
    # buffer fills and fetches again only after it drains; a buffer the size of a batch
    # keeps the fetcher busy while a batch is being stored.
    tracker_stream_buffer: int = Field(default=65_536, ge=1_024, le=1_000_000)
    # A batch sends a consignment update and a changelog record per consignment it
    # touched: a short linger lets each request fill instead of carrying a few records.
    # Offsets are committed only after the producer is flushed, so nothing waits on it
    # but the records themselves.
    tracker_producer_linger_seconds: float = Field(default=0.02, ge=0, le=1)
    tracker_cache_mib: int = Field(
        default=850,
        ge=0,
        description="Memory per worker for the consignments it folded last (their events "
        "and stored rows, estimated); least recently touched out first "
        "(docs/tracker.md, *Memory*).",
    )
    # The worker's paced garbage collection (services/tracker/gc_pacing.py): how soon it
    # collects everything, the frozen history cache included, and how long that waits at
    # most while such collections find no garbage. Each stalls the worker for a time that
    # grows with the cache (docs/tracker.md, *Garbage collection*).
    tracker_gc_full_seconds: float = Field(default=600.0, ge=60)
    tracker_gc_full_max_seconds: float = Field(default=21_600.0, ge=60)
    tracker_partitions: int = Field(default=6, ge=1, le=256)
    # Workers that keep a warm copy of another worker's part of the states table. The
    # tracker writes that table and never reads it (timelines are rebuilt from the
    # history cache or the database), so a standby would only make every worker read
    # every other worker's changelog all the time, and find its end at each rebalance;
    # a partition that moves is restored from its changelog instead.
    tracker_standby_replicas: int = Field(default=0, ge=0, le=8)
    tracker_overdue_hours: float = Field(default=72.0, gt=0)
    tracker_overdue_scan_seconds: float = Field(default=30.0, gt=0)
    # How soon a crashed worker's partitions move to the others (Kafka's floor is 6 s).
    tracker_session_timeout_seconds: float = Field(default=30.0, ge=6, le=300)
    tracker_db_retry_max_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _backlog_window_holds_the_window(self) -> TrackerSettings:
        if self.tracker_backlog_batch_seconds < self.tracker_batch_seconds:
            raise ValueError("tracker_backlog_batch_seconds must be at least tracker_batch_seconds")
        return self
