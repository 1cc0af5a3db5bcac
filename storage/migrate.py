"""Forward-only, versioned SQL migrations, safe to run twice and from two processes at once.

Files in ``storage/migrations`` are named ``NNNN_name.sql`` (both backends) or
``NNNN_name.<backend>.sql`` (one file per backend, both present, same relation names).
A session advisory lock serialises migrators; ``schema_migrations`` records each applied
version with the checksum of its file, and a changed applied file is an error. The backend
is detected once, on the first run, and kept in ``corridor_meta`` from then on.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import TupleRow

from storage.backend import Backend, detect_backend

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# pg_advisory_lock key: the first 8 bytes of sha256("corridor.schema_migrations").
ADVISORY_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"corridor.schema_migrations").digest()[:8], "big", signed=True
)
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<backend>[a-z]+))?\.sql$")

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version      integer PRIMARY KEY,
    name         text NOT NULL,
    filename     text NOT NULL,
    checksum     text NOT NULL,
    backend      text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    execution_ms integer NOT NULL
)
"""


class MigrationError(RuntimeError):
    """The migration files are inconsistent, or disagree with what the database applied."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.replace("\r\n", "\n").encode()).hexdigest()


@dataclass(frozen=True)
class MigrationReport:
    backend: Backend
    applied: tuple[str, ...]
    already_applied: int


def discover(backend: Backend, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations for ``backend`` in version order; raise on an inconsistent set."""
    by_version: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: not NNNN_name.sql or NNNN_name.<backend>.sql")
        variant = match["backend"]
        if variant is not None and variant not in set(Backend):
            raise MigrationError(f"{path.name}: unknown backend {variant!r}")
        by_version[int(match["version"])].append((path.name, match["name"], variant))
    migrations = []
    for version in sorted(by_version):
        files = by_version[version]
        migrations.append(_pick(version, files, backend, directory))
    return migrations


def _pick(
    version: int, files: list[tuple[str, str, str | None]], backend: Backend, directory: Path
) -> Migration:
    names = {name for _, name, _ in files}
    variants = {variant for _, _, variant in files}
    label = f"migration {version:04d}"
    if len(names) != 1:
        raise MigrationError(f"{label}: files disagree on the name: {sorted(names)}")
    if None in variants and len(files) > 1:
        raise MigrationError(f"{label}: a shared file and backend files cannot coexist")
    if None not in variants and variants != set(Backend):
        raise MigrationError(f"{label}: needs one file per backend, found {sorted(variants)}")  # type: ignore[type-var]
    chosen = next(f for f in files if f[2] in (None, backend.value))
    return Migration(version, chosen[1], chosen[0], (directory / chosen[0]).read_text())


def migrate(dsn: str, directory: Path = MIGRATIONS_DIR) -> MigrationReport:
    """Apply every pending migration, each in its own transaction, under the advisory lock."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (ADVISORY_LOCK_KEY,))
        try:
            return _migrate_locked(conn, directory)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (ADVISORY_LOCK_KEY,))


def _migrate_locked(conn: psycopg.Connection[TupleRow], directory: Path) -> MigrationReport:
    conn.execute(_BOOTSTRAP)
    backend = _stored_backend(conn) or detect_backend(conn)
    migrations = discover(backend, directory)
    applied = _applied(conn)
    _verify(applied, migrations)
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue
        started = time.monotonic()
        with conn.transaction():
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations"
                " (version, name, filename, checksum, backend, execution_ms)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    migration.version,
                    migration.name,
                    migration.filename,
                    migration.checksum,
                    backend.value,
                    int((time.monotonic() - started) * 1000),
                ),
            )
            _record_backend(conn, backend)
        done.append(migration.filename)
    return MigrationReport(backend, tuple(done), len(migrations) - len(done))


def _stored_backend(conn: psycopg.Connection[TupleRow]) -> Backend | None:
    if conn.execute("SELECT to_regclass('corridor_meta')").fetchone() == (None,):
        return None
    row = conn.execute("SELECT value FROM corridor_meta WHERE key = 'backend'").fetchone()
    return Backend(str(row[0])) if row else None


def _record_backend(conn: psycopg.Connection[TupleRow], backend: Backend) -> None:
    if conn.execute("SELECT to_regclass('corridor_meta')").fetchone() == (None,):
        return
    conn.execute(
        "INSERT INTO corridor_meta (key, value) VALUES ('backend', %s)"
        " ON CONFLICT (key) DO NOTHING",
        (backend.value,),
    )


def _applied(conn: psycopg.Connection[TupleRow]) -> dict[int, tuple[str, str]]:
    rows = conn.execute("SELECT version, filename, checksum FROM schema_migrations").fetchall()
    return {int(v): (str(f), str(c)) for v, f, c in rows}


def _verify(applied: dict[int, tuple[str, str]], migrations: Sequence[Migration]) -> None:
    known = {m.version: m for m in migrations}
    for version, (filename, checksum) in sorted(applied.items()):
        migration = known.get(version)
        if migration is None:
            raise MigrationError(f"{filename} was applied but its file is gone")
        if migration.filename != filename:
            raise MigrationError(
                f"version {version:04d} was applied from {filename}, now {migration.filename}"
            )
        if migration.checksum != checksum:
            raise MigrationError(
                f"{filename} changed after it was applied (checksum {checksum[:12]}… in the "
                f"database, {migration.checksum[:12]}… on disk); add a new migration instead"
            )


async def migrate_async(dsn: str, directory: Path = MIGRATIONS_DIR) -> MigrationReport:
    """For async start-up code: the same migration, run in a worker thread."""
    import asyncio

    return await asyncio.to_thread(migrate, dsn, directory)
