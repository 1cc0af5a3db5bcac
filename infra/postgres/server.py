"""The PostgreSQL server a local cluster runs: Debian's binaries, whether TimescaleDB is
installed beside them, and the postgresql.conf settings of a small shared dev box."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def find_bindir() -> Path | None:
    """Debian's server binaries: ``pg_config --bindir`` first, else the newest versioned dir."""
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        result = subprocess.run(  # noqa: S603
            [pg_config, "--bindir"], capture_output=True, text=True, check=False
        )
        bindir = Path(result.stdout.strip())
        if result.returncode == 0 and (bindir / "initdb").is_file():
            return bindir
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda path: int(path.parts[-3]) if path.parts[-3].isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


def server_settings(port: int, socket_dir: Path, synchronous_commit: str) -> dict[str, str]:
    """postgresql.conf for a 2-core, ~24 GB dev box shared with Kafka and the services."""
    return {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": f"'{socket_dir}'",
        "max_connections": "60",
        "shared_buffers": "'512MB'",
        "effective_cache_size": "'2GB'",
        "work_mem": "'16MB'",
        "maintenance_work_mem": "'128MB'",
        "wal_buffers": "'16MB'",
        "max_wal_size": "'2GB'",
        "checkpoint_timeout": "'15min'",
        "max_worker_processes": "4",
        "max_parallel_workers": "2",
        "max_parallel_workers_per_gather": "1",
        # Durability stays on: fsync and full-page writes protect against corruption.
        "fsync": "on",
        "full_page_writes": "on",
        # 'off' only risks losing the last ~0.6 s of commits on a crash, never consistency;
        # the test cluster uses it, the dev cluster keeps the default 'on'.
        "synchronous_commit": synchronous_commit,
        # Our queries are short; JIT compilation costs more than it saves for them.
        "jit": "off",
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
        "log_line_prefix": "'%m [%p] %q%u@%d '",
        "log_min_duration_statement": "'1s'",
        "password_encryption": "'scram-sha-256'",
    }


def timescaledb_library_present(bindir: Path) -> bool:
    pg_config = bindir / "pg_config"
    if not pg_config.is_file():
        return False
    result = subprocess.run(  # noqa: S603
        [str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False
    )
    return result.returncode == 0 and (Path(result.stdout.strip()) / "timescaledb.so").is_file()
