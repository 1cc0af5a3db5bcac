"""Storage settings from the environment (``DATABASE_URL``, ``DATABASE_POOL_*``)."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(
        description="libpq URL or key=value DSN; `python -m infra.postgres psql-url` prints "
        "the local cluster's."
    )
    database_pool_min_size: int = Field(default=1, ge=0)
    database_pool_max_size: int = Field(default=10, ge=1)
    database_connect_timeout: float = Field(default=30.0, gt=0)

    @field_validator("database_url")
    @classmethod
    def _looks_like_a_dsn(cls, value: str) -> str:
        if not (value.startswith(("postgresql://", "postgres://")) or "=" in value):
            raise ValueError("DATABASE_URL must be a postgresql:// URL or a key=value DSN")
        return value
