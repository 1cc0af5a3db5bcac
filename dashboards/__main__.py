"""``python -m dashboards generate | check | publish``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from dashboards.catalog import GENERATED_DIR, dashboards, differences, write
from dashboards.publish import Publisher, connect
from dashboards.settings import DataSourceSettings, GrafanaSettings

S = TypeVar("S", bound=BaseSettings)

app = typer.Typer(help="Grafana dashboards as code for corridor operators.")

DirOption = typer.Option(GENERATED_DIR, "--dir", help="Where the generated JSON lives.")


@app.command()
def generate(directory: Path = DirOption) -> None:
    """Write dashboards/generated/*.json from the code."""
    for path in write(directory):
        typer.echo(f"wrote {path}")


@app.command()
def check(directory: Path = DirOption) -> None:
    """Exit 1 when the committed JSON is not what the code generates."""
    problems = differences(directory)
    for problem in problems:
        typer.echo(problem, err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("generated dashboards are up to date")


def _settings(kind: type[S], hint: str, **overrides: Any) -> S:
    try:
        return kind(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as exc:
        problem = exc.errors()[0]
        field = str(problem["loc"][0]).upper() if problem["loc"] else ""
        typer.echo(f"error: {hint}{field}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None


@app.command()
def publish(
    url: str | None = typer.Option(None, help="Grafana base URL; defaults to GRAFANA_URL."),
    token: str | None = typer.Option(
        None, help="Service account token; defaults to GRAFANA_TOKEN."
    ),
    datasource: bool = typer.Option(
        True, help="Also create/update the data source from GRAFANA_DB_* variables."
    ),
    force: bool = typer.Option(False, help="Write everything even when it looks unchanged."),
) -> None:
    """Create or update the data source, folder and dashboards in a running Grafana."""
    grafana = _settings(GrafanaSettings, "GRAFANA_", url=url, token=token)
    payload = _settings(DataSourceSettings, "GRAFANA_DB_").payload() if datasource else None
    api = connect(grafana.url, grafana.token.get_secret_value(), grafana.timeout_seconds)
    for outcome in Publisher(api, force=force).publish(dashboards(), payload):
        typer.echo(str(outcome))


if __name__ == "__main__":
    app()
