"""Settings shared by the services, read from the environment with pydantic-settings.

Every variable is documented once, in `.env.example`. `load_settings` turns a
validation error into one message naming each bad or missing variable, so a
service refuses to start instead of failing later on first use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from corridor.errors import CorridorError
from storage.settings import DatabaseSettings


class SettingsError(CorridorError):
    """A setting is missing or invalid; `field` names the environment variable."""

    def __str__(self) -> str:
        return f"invalid settings: {self.rule}"


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    kafka_bootstrap_servers: Annotated[str, Field(min_length=1)] = Field(
        description="Comma-separated host:port list of Kafka brokers."
    )
    kafka_topic_prefix: str = Field(
        default="corridor.", pattern=r"^[A-Za-z0-9._-]*$", description="Prefix of every topic."
    )
    kafka_replication_factor: int = Field(
        default=1, ge=1, le=16, description="Replicas of the topics a service creates itself."
    )

    @field_validator("kafka_bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"expected host:port, got {server.strip()!r}")
        return value

    @property
    def bootstrap_servers(self) -> list[str]:
        return [server.strip() for server in self.kafka_bootstrap_servers.split(",")]

    def topic(self, base: str) -> str:
        return f"{self.kafka_topic_prefix}{base}"


class ReferenceDataSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    customs_offices_extra_file: Path | None = Field(
        default=None,
        description="A CSV of customs offices read after the shipped list (docs/ingest.md).",
    )


__all__ = [
    "DatabaseSettings",
    "KafkaSettings",
    "ReferenceDataSettings",
    "SettingsError",
    "load_settings",
]

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """Build settings from the environment, or fail naming every bad variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            variable = "_".join(str(part) for part in error["loc"]).upper() or "?"
            problems.append(f"{variable}: {error['msg']}")
        raise SettingsError(problems[0].split(":")[0], "; ".join(problems)) from None
