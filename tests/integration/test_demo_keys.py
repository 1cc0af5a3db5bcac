"""`make up`'s demo keys work in whichever database the stack uses."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import psycopg

from infra.demo import demo_keys
from services.common.keys import hash_key
from storage.db import create_pool
from storage.queries.keys import KeyQueries
from tests.fixtures.postgres import _create, _drop, _unique_name


async def _roles(database_url: str, keys: dict[str, str]) -> dict[str, str | None]:
    async with create_pool(database_url, min_size=1, max_size=1) as pool:
        reads = KeyQueries(pool)
        found = {}
        for name in ("publisher", "operator", "carrier"):
            view = await reads.api_key_by_hash(hash_key(keys[name]))
            found[name] = view.role.value if view is not None else None
        return found


def test_the_kept_keys_are_registered_in_another_database(
    postgres_dsn_base: str,
    _migrated_template: str,  # noqa: PT019 (its value, the template, is used)
    tmp_path: Path,
) -> None:
    keys_file = tmp_path / "demo-keys.json"
    names = [_unique_name("demo"), _unique_name("demo")]
    first, second = (
        _create(postgres_dsn_base, name, template=_migrated_template) for name in names
    )
    try:
        issued = demo_keys(first, keys_file)
        assert keys_file.stat().st_mode & 0o777 == 0o600

        kept = demo_keys(second, keys_file)  # DATABASE_URL=… make up after a first up
        again = demo_keys(second, keys_file)  # and once more: nothing added twice

        assert kept == again == issued == json.loads(keys_file.read_text())
        expected = {"publisher": "publisher", "operator": "operator", "carrier": "carrier"}
        assert asyncio.run(_roles(first, issued)) == expected
        assert asyncio.run(_roles(second, issued)) == expected
        with psycopg.connect(second) as conn:
            assert conn.execute("SELECT count(*) FROM api_keys").fetchone() == (3,)
    finally:
        for name in names:
            _drop(postgres_dsn_base, name)
