"""API service settings (environment variables, documented in .env.example)."""

from __future__ import annotations

from pydantic import Field, model_validator

from services.common.settings import DatabaseSettings, ReferenceDataSettings
from services.common.webhook_targets import WebhookTargetSettings


class ApiSettings(DatabaseSettings, ReferenceDataSettings, WebhookTargetSettings):
    api_host: str = Field(default="127.0.0.1", description="Interface to listen on.")
    api_port: int = Field(default=8002, ge=1, le=65535)
    api_page_size_default: int = Field(default=50, ge=1, le=1_000)
    api_page_size_max: int = Field(default=500, ge=1, le=10_000)
    api_default_range_days: int = Field(default=30, ge=1, le=3_660)
    api_max_range_days: int = Field(default=400, ge=1, le=3_660)
    api_max_hourly_range_days: int = Field(
        default=31, ge=1, le=3_660, description="Longest range that may use bucket=hour."
    )
    api_exact_percentiles_max_days: int = Field(
        default=31,
        ge=1,
        le=3_660,
        description="Longest KPI range read from the base tables; longer ranges are read "
        "from the rollups (sketch percentiles within 1 %, weekly location buckets exact).",
    )
    api_kpi_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        le=3_600,
        description="How long a KPI report answered from the rollups is reused "
        "per process; 0 turns the cache off.",
    )
    api_kpi_stale_after_seconds: float = Field(
        default=600.0,
        gt=0,
        le=86_400,
        description="A KPI rollup not refreshed for longer is reported stale by /readyz.",
    )
    api_eta_statistics_seconds: float = Field(
        default=60.0,
        ge=0,
        le=3_600,
        description="How long a process reuses the corridor statistics behind the ETA.",
    )
    api_session_secret: str = Field(
        default="",
        description="Signs the carrier page's session cookies (32+ characters); empty: a "
        "random one per process, so sessions end when it restarts.",
    )
    api_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)
    api_public_base_url: str = Field(
        default="",
        pattern=r"^(https?://[^\s/]+(/[^\s]*)?)?$",
        description="Prefix of links in responses (`next`, timeline); empty for relative links.",
    )
    api_body_timeout_seconds: float = Field(
        default=10.0, gt=0, le=600, description="Longest a request body may take to arrive."
    )
    api_startup_timeout_seconds: float = Field(default=60.0, gt=0, le=600)

    @model_validator(mode="after")
    def _consistent(self) -> ApiSettings:
        if self.api_page_size_default > self.api_page_size_max:
            raise ValueError("API_PAGE_SIZE_DEFAULT must not exceed API_PAGE_SIZE_MAX")
        if self.api_session_secret and len(self.api_session_secret) < 32:
            raise ValueError("API_SESSION_SECRET must be at least 32 characters")
        if self.api_default_range_days > self.api_max_range_days:
            raise ValueError("API_DEFAULT_RANGE_DAYS must not exceed API_MAX_RANGE_DAYS")
        return self

    @property
    def link_base(self) -> str:
        return self.api_public_base_url.rstrip("/")
