"""`python -m infra up|down|status`: the dev stack (see infra/stack.py)."""

from __future__ import annotations

import typer

from infra import stack

app = typer.Typer(add_completion=False, help="Run the Middle Corridor stack on this machine.")


@app.command()
def up(
    replay: bool = typer.Option(True, help="Replay a sample month of corridor traffic."),
) -> None:
    """Start Kafka, PostgreSQL and the services, then replay a sample; safe to re-run."""
    stack.up(replay=replay)


@app.command()
def down() -> None:
    """Stop the services, PostgreSQL and Kafka."""
    stack.down()


@app.command()
def status() -> None:
    """Show what is running."""
    stack.status()


if __name__ == "__main__":
    app()
