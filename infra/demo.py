"""The sample replay of `make up`: demo keys, then a simulated month through ingest."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable

from corridor.reference import load_reference
from infra.processes import REPO_ROOT, STACK_RUN_DIR
from services.common.keys import Role
from services.common.keys_cli import issue_key
from simulator.config import DEFAULT_CARRIERS
from storage.db import create_pool

KEYS_FILE = STACK_RUN_DIR / "demo-keys.json"
SAMPLE = ["--seed", "7", "--consignments", "300", "--days", "30"]


async def _issue_demo_keys(database_url: str) -> dict[str, str]:
    every_location = tuple(loc.code for loc in load_reference().locations)
    async with create_pool(database_url, min_size=1, max_size=1, name="demo") as pool:
        _, publisher = await issue_key(
            pool, Role.PUBLISHER, "demo replay (all corridor locations)", every_location
        )
        _, operator = await issue_key(pool, Role.OPERATOR, "demo operator")
        _, carrier = await issue_key(
            pool,
            Role.CARRIER,
            f"demo carrier {DEFAULT_CARRIERS[0]}",
            carrier_id=DEFAULT_CARRIERS[0],
        )
    return {
        "publisher": publisher,
        "operator": operator,
        "carrier": carrier,
        "carrier_id": DEFAULT_CARRIERS[0],
    }


def demo_keys(database_url: str) -> dict[str, str]:
    """The demo keys of this stack, issued on the first `up` and kept (mode 600) in .run/."""
    if KEYS_FILE.is_file():
        keys: dict[str, str] = json.loads(KEYS_FILE.read_text())
        return keys
    keys = asyncio.run(_issue_demo_keys(database_url))
    KEYS_FILE.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(KEYS_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
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
