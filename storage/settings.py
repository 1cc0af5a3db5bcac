"""Database settings from the environment: DATABASE_URL and the pool sizes.

The services compose this class into their own settings; `.env.example` documents each
variable once.
"""

from __future__ import annotations

import psycopg
from psycopg.conninfo import conninfo_to_dict
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(
        description="postgresql://user:password@host:port/db, or a libpq key=value string; "
        "`python -m infra.postgres psql-url` prints the local cluster's."
    )
    database_pool_min: int = Field(default=1, ge=0, le=64)
    database_pool_max: int = Field(default=8, ge=1, le=256)

    @field_validator("database_url")
    @classmethod
    def _libpq_parses_it(cls, value: str) -> str:
        if "://" in value and not value.startswith(("postgresql://", "postgres://")):
            raise ValueError("expected a postgresql:// URL or a libpq key=value string")
        try:
            conninfo_to_dict(value)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"not a valid connection string: {exc}") from None
        return value

    @property
    def dsn(self) -> str:
        return self.database_url
