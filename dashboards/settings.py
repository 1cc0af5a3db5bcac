"""Where Grafana is and how it reaches the database (environment variables).

The same GRAFANA_DB_* names feed the provisioning file (Grafana expands `$VAR` in it)
and the publisher, so one set of values describes the data source both ways.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from dashboards.query import DATASOURCE_TYPE, DATASOURCE_UID

DATASOURCE_NAME = "Middle Corridor PostgreSQL"


class DataSourceSettings(BaseSettings):
    """The PostgreSQL data source as Grafana should connect to it (a read-only role)."""

    model_config = SettingsConfigDict(env_prefix="GRAFANA_DB_", env_file=".env", extra="ignore")

    host: str = Field(description="host:port of PostgreSQL as Grafana's server sees it.")
    name: str = Field(default="corridor", description="Database name.")
    user: str = Field(description="Role Grafana logs in as; grant it SELECT only.")
    password: SecretStr = Field(description="That role's password.")
    sslmode: Literal["disable", "require", "verify-ca", "verify-full"] = "require"
    # Grafana expands $__timeGroup to time_bucket() when this is true.
    timescaledb: bool = Field(
        default=False, description="True when the database runs the TimescaleDB backend."
    )

    def payload(self) -> dict[str, object]:
        """The body of POST/PUT /api/datasources for this data source."""
        return {
            "uid": DATASOURCE_UID,
            "name": DATASOURCE_NAME,
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": self.host,
            "user": self.user,
            "isDefault": False,
            "jsonData": {
                "connMaxLifetime": 14400,
                "database": self.name,
                "maxIdleConns": 4,
                "maxOpenConns": 8,
                "postgresVersion": 1500,
                "sslmode": self.sslmode,
                "timescaledb": self.timescaledb,
            },
            "secureJsonData": {"password": self.password.get_secret_value()},
        }


class GrafanaSettings(BaseSettings):
    """The Grafana the publisher writes to."""

    model_config = SettingsConfigDict(env_prefix="GRAFANA_", env_file=".env", extra="ignore")

    url: str = Field(description="Base URL of Grafana, e.g. http://grafana:3000.")
    token: SecretStr = Field(description="Service account token with the Editor role or more.")
    timeout_seconds: float = Field(default=10.0, gt=0, le=300)
