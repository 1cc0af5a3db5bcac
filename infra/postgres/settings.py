"""Settings of the local PostgreSQL harness, from ``POSTGRES_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.postgres.cluster import DEFAULT_PORT, DEFAULT_RUN_ROOT, ClusterConfig


class PostgresHarnessSettings(BaseSettings):
    """``POSTGRES_PASSWORD`` unset means: generate one into ``.run/postgres/<name>/``."""

    model_config = SettingsConfigDict(env_prefix="POSTGRES_", extra="ignore")

    password: SecretStr | None = Field(default=None, description="Superuser password.")
    port: int = Field(default=DEFAULT_PORT, ge=1024, le=65535)
    cluster_name: str = Field(default="dev", pattern=r"^[a-z0-9_-]+$")
    run_root: Path = DEFAULT_RUN_ROOT

    def cluster_config(self, **overrides: object) -> ClusterConfig:
        values: dict[str, object] = {
            "name": self.cluster_name,
            "port": self.port,
            "run_root": self.run_root,
            "password": self.password.get_secret_value() if self.password else None,
        }
        values.update(overrides)
        return ClusterConfig(**values)  # type: ignore[arg-type]
