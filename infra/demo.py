"""The sample replay of `make up`: demo keys, then a simulated month through ingest."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corridor.reference import load_reference
from infra.processes import REPO_ROOT, STACK_RUN_DIR
from services.common.keys import Role, generate_key, hash_key
from simulator.config import DEFAULT_CARRIERS
from storage.db import create_pool
from storage.queries.keys import KeyQueries
from storage.rows import ApiKeyRow
from storage.views import ApiKeyRole
from storage.writes import WriteRepository

KEYS_FILE = STACK_RUN_DIR / "demo-keys.json"
SAMPLE = ["--seed", "7", "--consignments", "300", "--days", "30"]


@dataclass(frozen=True)
class DemoKey:
    field: str  # its name in KEYS_FILE
    role: Role
    holder: str
    locations: tuple[str, ...] = ()
    carrier_id: str | None = None


def _demo_key_specs() -> tuple[DemoKey, ...]:
    every_location = tuple(loc.code for loc in load_reference().locations)
    carrier = DEFAULT_CARRIERS[0]
    return (
        DemoKey(
            "publisher", Role.PUBLISHER, "demo replay (all corridor locations)", every_location
        ),
        DemoKey("operator", Role.OPERATOR, "demo operator"),
        DemoKey("carrier", Role.CARRIER, f"demo carrier {carrier}", carrier_id=carrier),
    )


async def _register_demo_keys(database_url: str, keys: dict[str, str]) -> list[str]:
    """Store the digest of every demo key the database does not hold yet; their fields.

    A stack pointed at another database (`DATABASE_URL=… make up` after a first `up`) keeps
    the keys of KEYS_FILE, so they must be valid in whichever database the stack uses.
    A key the database holds revoked stays revoked.
    """
    added = []
    async with create_pool(database_url, min_size=1, max_size=1, name="demo") as pool:
        stored, writes = KeyQueries(pool), WriteRepository(pool)
        for spec in _demo_key_specs():
            plain = keys[spec.field]
            digest = hash_key(plain)
            if await stored.api_key_by_hash(digest, include_revoked=True) is not None:
                continue
            await writes.insert_api_key(
                ApiKeyRow(
                    name=spec.holder,
                    role=ApiKeyRole(spec.role.value),
                    prefix=plain[:12],
                    key_hash=digest,
                    allowed_locations=spec.locations if spec.role is Role.PUBLISHER else None,
                    carrier_id=spec.carrier_id,
                )
            )
            added.append(spec.field)
    return added


def demo_keys(database_url: str, keys_file: Path = KEYS_FILE) -> dict[str, str]:
    """The demo keys of this stack: made on the first `up`, kept (mode 600) in .run/, and
    registered in the database of every `up`."""
    if keys_file.is_file():
        keys: dict[str, str] = json.loads(keys_file.read_text())
    else:
        keys = {spec.field: generate_key(spec.role).plain for spec in _demo_key_specs()}
        keys["carrier_id"] = DEFAULT_CARRIERS[0]
        keys_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(keys_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(keys, handle, indent=2)
    asyncio.run(_register_demo_keys(database_url, keys))
    return keys


def replay_sample(env: dict[str, str], say: Callable[[str], None]) -> None:
    """Send the sample month through the ingest API, as the corridor's publishers would."""
    keys = demo_keys(env["DATABASE_URL"])
    ingest = f"http://127.0.0.1:{env['INGEST_PORT']}"
    say(f"replay: a simulated month ({' '.join(SAMPLE)}) through {ingest}")
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "simulator", "replay", "--to", ingest, *SAMPLE, "--quiet"],
        cwd=REPO_ROOT,
        env={**os.environ, **env, "CORRIDOR_API_KEY": keys["publisher"]},
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit("the sample replay failed; see the output above")
    say(f"replay: done. Demo keys (operator, carrier {keys['carrier_id']}) are in {KEYS_FILE}")
