"""A typed PostgreSQL query for grafana-foundation-sdk, which ships no SQL data source.

`PostgresQuery` implements the SDK's dataquery interface (`to_json`/`from_json`), so
panels built with the SDK carry it like any other target, and `register()` teaches the
SDK's runtime to decode it back from dashboard JSON. Next to the SQL each query declares
what the tests hold it to (`Expect`): the columns the panel reads and, where a query may
legitimately return nothing on the sample month, why. The expectation never reaches
the dashboard JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Self

from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

DATASOURCE_TYPE = "grafana-postgresql-datasource"
DATASOURCE_UID = "corridor-postgres"
DATASOURCE = DataSourceRef(type_val=DATASOURCE_TYPE, uid=DATASOURCE_UID)


class Format(StrEnum):
    TABLE = "table"
    TIME_SERIES = "time_series"


@dataclass(frozen=True)
class Expect:
    """What a query must return on the simulated month (checked by the integration test)."""

    columns: tuple[str, ...]
    empty_when: str | None = None
    """Why the query may return no rows; None means it must return rows."""
    nullable: tuple[str, ...] = ()
    """Columns that may be NULL in every row; the others need a value somewhere."""


@dataclass(frozen=True)
class PostgresQuery(cogvariants.Dataquery):
    """One SQL target of a panel, as Grafana's PostgreSQL data source stores it."""

    raw_sql: str
    format: Format = Format.TABLE
    ref_id: str = "A"
    datasource: DataSourceRef = field(default_factory=lambda: DATASOURCE)
    expect: Expect | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, object]:
        return {
            "datasource": self.datasource.to_json(),
            "editorMode": "code",
            "format": self.format.value,
            "rawQuery": True,
            "rawSql": self.raw_sql,
            "refId": self.ref_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        return cls(
            raw_sql=data["rawSql"],
            format=Format(data.get("format", Format.TABLE)),
            ref_id=data.get("refId", "A"),
            datasource=DataSourceRef.from_json(data.get("datasource") or {}),
        )


class Sql(Builder[cogvariants.Dataquery]):
    """Builder form of `PostgresQuery`, for `panel.with_target(...)`."""

    def __init__(
        self,
        raw_sql: str,
        expect: Expect,
        *,
        format: Format = Format.TABLE,
        ref_id: str = "A",
    ) -> None:
        self._query = PostgresQuery(
            raw_sql=raw_sql.strip(), format=format, ref_id=ref_id, expect=expect
        )

    def build(self) -> PostgresQuery:
        return self._query


def register() -> None:
    """Let the SDK decode our targets (by data source type) instead of an unknown bag."""
    cogruntime.register_dataquery_variant(
        cogruntime.DataqueryConfig(
            identifier=DATASOURCE_TYPE, from_json_hook=PostgresQuery.from_json
        )
    )
