"""Detached service processes of the dev stack: start, wait until ready, stop.

Each process gets a pid file and a log file under `.run/stack/`, runs in its own
session (so a stop reaches its children too) and is stopped with SIGTERM, then
SIGKILL after a bound.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_RUN_DIR = REPO_ROOT / ".run" / "stack"


class ProcessError(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    module_args: Sequence[str]  # run as `python -m <module_args...>`
    env: Mapping[str, str] = field(default_factory=dict)
    ready_url: str | None = None  # an HTTP URL answering 200 once the service is ready

    @property
    def pid_file(self) -> Path:
        return STACK_RUN_DIR / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return STACK_RUN_DIR / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if _alive(pid) else None

    def start(self) -> bool:
        """Launch unless already running; returns whether it launched."""
        if self.pid() is not None:
            return False
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", *self.module_args],
                cwd=REPO_ROOT,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(f"{process.pid}\n")
        return True

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.pid() is None:
                raise ProcessError(f"{self.name} exited; see {self.log_file}:\n{self.log_tail()}")
            if self.ready_url is None:
                return
            try:
                response = httpx.get(self.ready_url, timeout=2)
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.5)
        raise ProcessError(
            f"{self.name} not ready at {self.ready_url} within {timeout:g}s ({last}); "
            f"see {self.log_file}:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); reap it if it is ours.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True
