"""Create, list and revoke API keys: `python -m services.common.keys_cli --help`.

The plain key is printed once, at creation; only its SHA-256 is stored. Reads
DATABASE_URL from the environment (or .env).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import typer

from corridor.reference import load_reference
from services.common.keys import InvalidCarrierKey, Role, carrier_key_id, generate_key
from services.common.settings import DatabaseSettings, SettingsError, load_settings
from storage.db import Pool, create_pool
from storage.records import NewApiKey
from storage.views import ApiKeyRole
from storage.writes import WriteRepository

app = typer.Typer(
    help="Manage the API keys of publishers, carriers, operators and admins.", no_args_is_help=True
)
T = TypeVar("T")

_LIST = """
SELECT id, name, role, key_prefix, allowed_locations, carrier_id, created_at, revoked_at
FROM api_keys ORDER BY created_at, name
"""


def _run(work: Callable[[Pool], Awaitable[T]]) -> T:
    try:
        settings = load_settings(DatabaseSettings)
    except SettingsError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None

    async def main() -> T:
        async with create_pool(settings.dsn, min_size=1, max_size=1, name="keys-cli") as pool:
            return await work(pool)

    return asyncio.run(main())


@app.command()
def create(
    role: Annotated[Role, typer.Option(help="Who the key speaks for.")],
    name: Annotated[str, typer.Option(help="Human name of the holder, e.g. 'Nur Zholy BCP'.")],
    location: Annotated[
        list[str] | None,
        typer.Option(help="Location a publisher may publish for (repeat for several)."),
    ] = None,
    carrier_id: Annotated[str | None, typer.Option(help="The carrier a carrier key sees.")] = None,
) -> None:
    """Create a key and print it once."""
    locations = tuple(location or ())
    reference = load_reference()
    unknown = [code for code in locations if not reference.has_location(code)]
    if unknown:
        raise typer.BadParameter(
            f"unknown corridor location(s): {', '.join(unknown)}", param_hint="--location"
        )
    if role is Role.PUBLISHER and not locations:
        raise typer.BadParameter("a publisher key needs at least one", param_hint="--location")
    if role is Role.CARRIER:
        try:
            carrier_key_id(carrier_id)
        except InvalidCarrierKey as exc:
            raise typer.BadParameter(str(exc), param_hint="--carrier-id") from None
    key_id, plain = _run(lambda pool: issue_key(pool, role, name, locations, carrier_id))
    typer.echo(f"created key {key_id} ({role.value}, {name})")
    typer.echo("API key, shown only this once:")
    typer.echo(plain)


async def issue_key(
    pool: Pool,
    role: Role,
    name: str,
    locations: tuple[str, ...] = (),
    carrier_id: str | None = None,
) -> tuple[uuid.UUID, str]:
    """Store a new key's digest; return its id and the plain key (to show once).

    Raises `InvalidCarrierKey` for a carrier key without a valid carrier id."""
    if role is Role.CARRIER:
        carrier_id = carrier_key_id(carrier_id)
    key = generate_key(role)
    record = NewApiKey(
        name=name,
        role=ApiKeyRole(role.value),
        prefix=key.lookup_prefix,
        key_hash=key.digest,
        allowed_locations=locations if role is Role.PUBLISHER else None,
        carrier_id=carrier_id if role is Role.CARRIER else None,
    )
    return await WriteRepository(pool).insert_api_key(record), key.plain


@app.command(name="list")
def list_keys() -> None:
    """List keys (never the keys themselves: their prefixes)."""

    async def fetch(pool: Pool) -> list[tuple[Any, ...]]:
        async with pool.connection() as conn:
            cursor = await conn.execute(_LIST)
            return list(await cursor.fetchall())

    for key_id, name, role, prefix, locations, carrier, created, revoked in _run(fetch):
        scope = ",".join(locations or ()) or carrier or "-"
        state = f"revoked {revoked:%Y-%m-%d}" if revoked else "active"
        typer.echo(
            f"{key_id}  {prefix}…  {role:<9}  {state:<18}  {scope}  {name}  "
            f"(created {created:%Y-%m-%d})"
        )


@app.command()
def revoke(key_id: Annotated[uuid.UUID, typer.Argument(help="Id printed by create/list.")]) -> None:
    """Revoke a key: it stops authenticating at once."""
    now = datetime.now(UTC)
    revoked = _run(lambda pool: WriteRepository(pool).revoke_api_key(key_id, now))
    if not revoked:
        typer.echo(f"no active key {key_id}", err=True)
        raise typer.Exit(1)
    typer.echo(f"revoked key {key_id}")


if __name__ == "__main__":
    app()
