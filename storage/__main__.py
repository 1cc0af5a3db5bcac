"""``python -m storage migrate | refresh-views [--every N]``."""

from __future__ import annotations

import asyncio
import logging

import psycopg
import typer
from pydantic import ValidationError

from storage.kpi_refresh import refresh_forever, refresh_kpi_views
from storage.migrate import MigrationError, migrate
from storage.settings import DatabaseSettings

app = typer.Typer(help="Database schema and KPI view maintenance.")

DsnOption = typer.Option(None, "--dsn", help="Defaults to DATABASE_URL.")


def _dsn(dsn: str | None) -> str:
    if dsn:
        return dsn
    try:
        return DatabaseSettings().database_url
    except ValidationError as exc:
        problem = exc.errors()[0]
        typer.echo(f"error: DATABASE_URL: {problem['msg']} (or pass --dsn)", err=True)
        raise typer.Exit(2) from None


@app.command("migrate")
def migrate_command(dsn: str | None = DsnOption) -> None:
    """Apply pending migrations (safe to run twice, or from two processes at once)."""
    try:
        report = migrate(_dsn(dsn))
    except MigrationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    applied = ", ".join(report.applied) or "nothing to apply"
    typer.echo(f"backend {report.backend.value}: {applied} ({report.already_applied} already)")


@app.command("refresh-views")
def refresh_views_command(
    dsn: str | None = DsnOption,
    every: float = typer.Option(0.0, help="Seconds between refreshes; 0 refreshes once."),
) -> None:
    """Refresh the KPI rollups (materialized views; on TimescaleDB also run the continuous
    aggregates' refresh policies) and record each outcome for their as_of."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    url = _dsn(dsn)
    if every > 0:
        asyncio.run(refresh_forever(url, every))
        return

    async def once() -> tuple[str, ...]:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            return await refresh_kpi_views(conn)

    typer.echo("refreshed: " + (", ".join(asyncio.run(once())) or "nothing"))


if __name__ == "__main__":
    app()
