"""Where a local cluster's files may live when its server runs as another user."""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path


@functools.lru_cache(maxsize=32)
def reachable_root(run_root: Path) -> Path:
    """`run_root`, unless the server will run as another user (we are root) and cannot pass
    through one of its existing ancestors, as in a checkout made with `mktemp -d` (0700):
    then a directory of its own under the system temp dir, named after `run_root` so every
    caller finds the same one."""
    if os.geteuid() != 0:
        return run_root
    resolved = run_root.resolve()
    blocked = [
        ancestor
        for ancestor in (resolved, *resolved.parents)
        if ancestor.exists() and not ancestor.stat().st_mode & 0o001
    ]
    if not blocked:
        return run_root
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"corridor-postgres-{digest}"
