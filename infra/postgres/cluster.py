"""A private PostgreSQL cluster on loopback, run from Debian's server binaries.

No Docker and no system service: ``initdb`` and ``pg_ctl`` run the server out of
``.run/postgres/<name>`` (data, unix socket, log, generated password). initdb and the
server refuse to run as root, so when we are root they run as an unprivileged system user
(``postgres`` when the Debian package created it, else ``corridor-pg``) through ``runuser``.

Typical use::

    cluster = PostgresCluster()                 # dev defaults: 127.0.0.1:15432, .run/postgres/dev
    cluster.start()                             # initdb on first use; reuses a running cluster
    cluster.wait_ready(timeout=30)              # a real SELECT 1 through psycopg
    cluster.create_database("corridor")
    dsn = cluster.dsn("corridor")
    ...
    cluster.stop()
"""

from __future__ import annotations

import contextlib
import enum
import os
import pwd
import secrets
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from infra.harness import exclusive_lock, port_accepts_connections
from infra.postgres.run_root import reachable_root
from infra.postgres.server import find_bindir, server_settings, timescaledb_library_present

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_RUN_ROOT = REPO_ROOT / ".run" / "postgres"
DEFAULT_PORT = 15432
DEFAULT_SUPERUSER = "corridor"
FALLBACK_SYSTEM_USER = "corridor-pg"
PASSWORD_FILE_NAME = "superuser.password"  # noqa: S105 (a file name)


class ClusterError(RuntimeError):
    """The harness could not install, initialise, start, stop or reach the cluster."""


class StartOutcome(enum.Enum):
    STARTED = "started"
    """This call launched the server (after initdb when the data dir was new)."""
    ALREADY_RUNNING = "already-running"
    """The server of this data dir was already running; it is reused as is."""


@dataclass(frozen=True)
class ClusterConfig:
    """Where the cluster listens and keeps its files (everything under ``run_dir``)."""

    name: str = "dev"
    port: int = DEFAULT_PORT
    host: str = "127.0.0.1"
    run_root: Path = DEFAULT_RUN_ROOT
    superuser: str = DEFAULT_SUPERUSER
    synchronous_commit: str = "on"
    # None: the password generated into ``run_dir`` on first start (see docs/storage.md).
    password: str | None = field(default=None, repr=False)
    bindir: Path | None = None
    extra_settings: dict[str, str] = field(default_factory=dict)

    @property
    def run_dir(self) -> Path:
        return reachable_root(self.run_root) / self.name

    @property
    def data_dir(self) -> Path:
        return self.run_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.run_dir / "socket"

    @property
    def log_file(self) -> Path:
        return self.run_dir / "postgres.log"

    @property
    def password_file(self) -> Path:
        return self.run_dir / PASSWORD_FILE_NAME


class PostgresCluster:
    """Controls one cluster whose files live under ``config.run_dir``."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config if config is not None else ClusterConfig()
        self._bindir = self.config.bindir

    # ------------------------------------------------------------------------- install

    def ensure_installed(self) -> Path:
        """The server's bindir, installing Debian's ``postgresql`` package when missing."""
        if self._bindir is not None and (self._bindir / "initdb").is_file():
            return self._bindir
        bindir = find_bindir()
        if bindir is None:
            if os.geteuid() != 0:
                raise ClusterError(
                    "PostgreSQL server binaries (initdb, pg_ctl) were not found in "
                    "`pg_config --bindir` or /usr/lib/postgresql/*/bin; install them with "
                    "`sudo apt-get install -y postgresql` (the bootstrap script does this)"
                )
            self._apt_install()
            bindir = find_bindir()
            if bindir is None:
                raise ClusterError("apt-get installed postgresql but initdb is still missing")
        self._bindir = bindir
        return bindir

    def _apt_install(self) -> None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "postgresql"]
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)  # noqa: S603
        if result.returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)  # noqa: S607
            result = subprocess.run(  # noqa: S603
                install, capture_output=True, text=True, env=env, check=False
            )
        if result.returncode != 0:
            raise ClusterError(
                f"`apt-get install -y postgresql` failed (exit {result.returncode}); install "
                f"the PostgreSQL server yourself:\n{result.stderr[-3000:]}"
            )

    # ------------------------------------------------------------------------ lifecycle

    def start(self, timeout: float = 60.0) -> StartOutcome:
        """initdb if the data dir is new, then start the server; reuse it when running."""
        self.ensure_installed()
        self.config.run_root.mkdir(parents=True, exist_ok=True)
        # Two processes (a dev `up` and a test session) may both find the cluster down.
        with exclusive_lock(self.config.run_root / f".{self.config.name}.lock"):
            return self._start_locked(timeout)

    def _start_locked(self, timeout: float) -> StartOutcome:
        if self.is_running():
            return StartOutcome.ALREADY_RUNNING
        if port_accepts_connections(self.config.host, self.config.port):
            raise ClusterError(
                f"{self.config.host}:{self.config.port} is taken by another server (not the "
                f"cluster in {self.config.data_dir}); stop it or choose another port"
            )
        self._prepare_run_dir()
        if not (self.config.data_dir / "PG_VERSION").is_file():
            self._initdb()
        self._write_settings()
        log_start = self._log_size()
        try:
            self._pg_ctl(
                "start", "-w", "-t", str(int(timeout)), "-l", str(self.config.log_file), check=True
            )
        except ClusterError:
            # Another server can bind the port between the check above and our bind.
            if "Address already in use" in self._log_since(log_start):
                raise ClusterError(
                    f"{self.config.host}:{self.config.port} is taken by another server that "
                    "bound it first; stop it or choose another port"
                ) from None
            raise
        return StartOutcome.STARTED

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Poll until a real ``SELECT 1`` succeeds with the superuser's password."""
        deadline = time.monotonic() + timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            try:
                with psycopg.connect(self.dsn("postgres"), connect_timeout=3) as conn:
                    conn.execute("SELECT 1")
                    return
            except psycopg.OperationalError as error:
                last_error = error
            time.sleep(0.2)
        raise ClusterError(
            f"PostgreSQL at {self.config.host}:{self.config.port} did not answer SELECT 1 "
            f"within {timeout:g}s ({last_error}); see {self.config.log_file}:\n{self._log_tail()}"
        )

    def is_running(self) -> bool:
        """Whether the server of this data dir is running (``pg_ctl status``)."""
        if not (self.config.data_dir / "PG_VERSION").is_file():
            return False
        return self._pg_ctl("status", check=False).returncode == 0

    def stop(self, timeout: float = 60.0) -> bool:
        """Fast shutdown (aborts sessions, checkpoints); returns whether one was running."""
        if not self.is_running():
            return False
        self._pg_ctl("stop", "-w", "-m", "fast", "-t", str(int(timeout)), check=True)
        return True

    # -------------------------------------------------------------------- connections

    def password(self) -> str:
        """The configured password (``POSTGRES_PASSWORD``), else one generated into the run dir."""
        if self.config.password:
            return self.config.password
        path = self.config.password_file
        if path.is_file():
            return path.read_text().strip()
        path.parent.mkdir(parents=True, exist_ok=True)
        generated = secrets.token_urlsafe(24)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(generated + "\n")
        return generated

    def dsn(self, dbname: str = "postgres") -> str:
        user = quote(self.config.superuser, safe="")
        password = quote(self.password(), safe="")
        return (
            f"postgresql://{user}:{password}@{self.config.host}:{self.config.port}/"
            f"{quote(dbname, safe='')}"
        )

    def create_database(self, name: str, template: str | None = None) -> None:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def drop_database(self, name: str) -> None:
        statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    # ------------------------------------------------------------------------ internals

    def _server_user(self) -> pwd.struct_passwd | None:
        """The unprivileged account that owns the data dir; None when we are not root."""
        if os.geteuid() != 0:
            return None
        for name in ("postgres", FALLBACK_SYSTEM_USER):
            with contextlib.suppress(KeyError):
                return pwd.getpwnam(name)
        subprocess.run(  # noqa: S603
            [  # noqa: S607 (useradd is found on root's PATH, like runuser)
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                FALLBACK_SYSTEM_USER,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return pwd.getpwnam(FALLBACK_SYSTEM_USER)

    def _as_server_user(self, command: Sequence[str]) -> list[str]:
        user = self._server_user()
        if user is None:
            return list(command)
        return ["runuser", "-u", user.pw_name, "--", *command]

    def _prepare_run_dir(self) -> None:
        run_dir = self.config.run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.password()  # generate it now, root-only readable, before initdb needs it
        user = self._server_user()
        if user is None:
            self.config.socket_dir.mkdir(exist_ok=True)
            return
        _check_traversable(run_dir, user)
        for path in (run_dir, self.config.socket_dir, self.config.data_dir):
            path.mkdir(exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)
        self.config.data_dir.chmod(0o700)
        if not self.config.log_file.exists():
            self.config.log_file.touch()
        os.chown(self.config.log_file, user.pw_uid, user.pw_gid)

    def _initdb(self) -> None:
        bindir = self.ensure_installed()
        user = self._server_user()
        # initdb reads the password from a file the server user can read; it lives for the
        # duration of initdb only (the run dir copy stays root-only).
        pwfile = self.config.run_dir / ".initdb-pwfile"
        pwfile.write_text(self.password() + "\n")
        pwfile.chmod(0o600)
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            result = subprocess.run(  # noqa: S603
                self._as_server_user(
                    [
                        str(bindir / "initdb"),
                        "-D",
                        str(self.config.data_dir),
                        "-U",
                        self.config.superuser,
                        f"--pwfile={pwfile}",
                        "--auth=scram-sha-256",
                        "--encoding=UTF8",
                        "--locale=C.UTF-8",
                    ]
                ),
                capture_output=True,
                text=True,
                check=False,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise ClusterError(
                f"initdb of {self.config.data_dir} failed (exit {result.returncode}):\n"
                f"{result.stdout[-3000:]}{result.stderr[-3000:]}"
            )
        conf = self.config.data_dir / "postgresql.conf"
        with conf.open("a") as handle:
            handle.write("\n# Settings of the corridor harness, rewritten on each start.\n")
            handle.write("include_if_exists = 'corridor.conf'\n")

    def _write_settings(self) -> None:
        settings = server_settings(
            self.config.port, self.config.socket_dir, self.config.synchronous_commit
        )
        bindir = self.ensure_installed()
        if timescaledb_library_present(bindir):
            settings["shared_preload_libraries"] = "'timescaledb'"
            settings["timescaledb.telemetry_level"] = "off"
        settings.update(self.config.extra_settings)
        target = self.config.data_dir / "corridor.conf"
        target.write_text("".join(f"{key} = {value}\n" for key, value in settings.items()))
        user = self._server_user()
        if user is not None:
            os.chown(target, user.pw_uid, user.pw_gid)

    def _pg_ctl(self, *args: str, check: bool) -> subprocess.CompletedProcess[str]:
        bindir = self.ensure_installed()
        command = self._as_server_user(
            [str(bindir / "pg_ctl"), "-D", str(self.config.data_dir), *args]
        )
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if check and result.returncode != 0:
            raise ClusterError(
                f"`pg_ctl {args[0]}` failed (exit {result.returncode}): "
                f"{result.stdout[-2000:]}{result.stderr[-2000:]}\n{self._log_tail()}"
            )
        return result

    def _log_size(self) -> int:
        path = self.config.log_file
        return path.stat().st_size if path.is_file() else 0

    def _log_since(self, offset: int) -> str:
        path = self.config.log_file
        if not path.is_file():
            return ""
        with path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def _log_tail(self, lines: int = 20) -> str:
        path = self.config.log_file
        if not path.is_file():
            return "(no log written)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _check_traversable(path: Path, user: pwd.struct_passwd) -> None:
    """Every ancestor of the run dir must let the server user pass through (o+x)."""
    for ancestor in path.resolve().parents:
        mode = ancestor.stat().st_mode
        if ancestor.stat().st_uid != user.pw_uid and not mode & 0o001:
            raise ClusterError(
                f"{ancestor} is not traversable by {user.pw_name!r} (needs o+x) so the server "
                f"cannot reach {path}; `chmod o+x {ancestor}` or choose another run root"
            )
