"""``python -m infra.postgres up|down|status|psql-url``: the local PostgreSQL cluster."""

from __future__ import annotations

import typer

from infra.postgres.cluster import ClusterError, PostgresCluster
from infra.postgres.settings import PostgresHarnessSettings

app = typer.Typer(help="Run the project's private PostgreSQL cluster on 127.0.0.1.")
DEFAULT_DATABASE = "corridor"


def _cluster() -> PostgresCluster:
    return PostgresCluster(PostgresHarnessSettings().cluster_config())


@app.command()
def up(
    database: str = typer.Option(DEFAULT_DATABASE, help="Application database to create."),
    timeout: float = typer.Option(60.0, help="Seconds to wait for SELECT 1."),
) -> None:
    """initdb on first use, start (or reuse) the cluster, create the app database."""
    cluster = _cluster()
    try:
        outcome = cluster.start(timeout=timeout)
        cluster.wait_ready(timeout=timeout)
        if not _database_exists(cluster, database):
            cluster.create_database(database)
    except ClusterError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from error
    typer.echo(f"{outcome.value}: {cluster.config.host}:{cluster.config.port} ({database})")


@app.command()
def down() -> None:
    """Fast shutdown of the cluster (data is kept)."""
    stopped = _cluster().stop()
    typer.echo("stopped" if stopped else "not running")


@app.command()
def status() -> None:
    """Exit 0 when the cluster is running, 3 when it is not."""
    cluster = _cluster()
    running = cluster.is_running()
    typer.echo(f"{'running' if running else 'stopped'}: {cluster.config.data_dir}")
    if not running:
        raise typer.Exit(3)


@app.command("psql-url")
def psql_url(database: str = typer.Argument(DEFAULT_DATABASE)) -> None:
    """Print the connection URL (with the password) for psql or DATABASE_URL."""
    typer.echo(_cluster().dsn(database))


def _database_exists(cluster: PostgresCluster, name: str) -> bool:
    import psycopg

    with psycopg.connect(cluster.dsn("postgres")) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


if __name__ == "__main__":
    app()
