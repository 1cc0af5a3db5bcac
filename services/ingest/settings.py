"""Ingest service settings (environment variables, documented in .env.example)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from services.common.settings import DatabaseSettings, KafkaSettings, ReferenceDataSettings


class IngestSettings(KafkaSettings, DatabaseSettings, ReferenceDataSettings):
    ingest_host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    ingest_port: int = Field(default=8001, ge=1, le=65535)
    ingest_max_batch: int = Field(default=500, ge=1, le=10_000)
    ingest_max_body_bytes: int = Field(default=2_000_000, ge=1_024, le=50_000_000)
    ingest_max_xml_bytes: int = Field(default=1_000_000, ge=1_024, le=50_000_000)
    ingest_body_timeout_seconds: float = Field(
        default=30.0, gt=0, le=600, description="Longest a request body may take to arrive."
    )
    ingest_max_future_skew_seconds: int = Field(default=300, ge=0, le=86_400)
    ingest_publish_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    ingest_retry_after_seconds: int = Field(default=5, ge=1, le=3_600)
    ingest_startup_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    ingest_receipt_retention_hours: int = Field(
        default=168,
        ge=1,
        le=8_784,
        description="How long a re-send is recognised across ingest processes.",
    )
    ingest_ncts_xsd_dir: Path | None = Field(
        default=None,
        description="A directory of the official NCTS XSDs to validate messages against too.",
    )

    @property
    def events_topic(self) -> str:
        return self.topic("transit-events")
