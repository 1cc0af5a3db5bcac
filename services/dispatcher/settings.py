"""Dispatcher settings (environment variables, documented in .env.example)."""

from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import DatabaseSettings, KafkaSettings, ReferenceDataSettings
from services.common.webhook_targets import WebhookTargetSettings


class DispatcherSettings(
    DatabaseSettings, KafkaSettings, ReferenceDataSettings, WebhookTargetSettings
):
    dispatcher_group_id: str = Field(
        default="webhook-dispatcher",
        pattern=r"^[A-Za-z0-9._-]+$",
        description="Consumer group (prefixed with KAFKA_TOPIC_PREFIX); dispatchers sharing "
        "it split the partitions.",
    )
    dispatcher_offset_reset: str = Field(
        default="latest",
        pattern=r"^(earliest|latest)$",
        description="Where a new group starts reading: 'latest' tells endpoints of what "
        "happens from now on.",
    )
    dispatcher_metrics_port: int = Field(
        default=8003, ge=0, le=65535, description="Prometheus /metrics on 127.0.0.1; 0: off."
    )
    webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    webhook_retry_base_seconds: float = Field(default=30.0, gt=0, le=86_400)
    webhook_retry_max_seconds: float = Field(default=3_600.0, gt=0, le=7 * 86_400)
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    webhook_poll_seconds: float = Field(
        default=0.5, gt=0, le=60, description="How often due deliveries are looked for."
    )
    webhook_concurrency: int = Field(
        default=16, ge=1, le=1_000, description="Deliveries sent at once per dispatcher."
    )
    dispatcher_startup_timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> DispatcherSettings:
        if self.webhook_retry_base_seconds > self.webhook_retry_max_seconds:
            raise ValueError("WEBHOOK_RETRY_BASE_SECONDS must not exceed WEBHOOK_RETRY_MAX_SECONDS")
        return self
