"""A real single-node Apache Kafka broker (KRaft) for local development and tests.

The broker runs from jars that Maven resolves from Maven Central (see ``pom.xml`` next to
this file) into ``.cache/kafka/<version>/lib``; no Docker and no Kafka tarball are needed,
only ``java`` and ``mvn`` on the PATH. The process is started detached, so it outlives the
Python process that launched it (``python -m infra.kafka up`` returns, the broker stays);
its pid file lets any later process find and stop it.

Typical use::

    broker = KafkaBroker()                      # dev defaults: 127.0.0.1:19092
    await broker.start()                        # resolves jars, formats, launches
    await broker.wait_healthy(timeout=60)       # a real metadata round trip
    ...
    broker.stop()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import os
import shutil
import signal
import string
import subprocess
import time
import uuid
from pathlib import Path

from infra.harness import port_accepts_connections
from infra.kafka.broker_config import (
    LOG4J2_CONFIG,
    SERVER_PROPERTIES_TEMPLATE,
    BrokerConfig,
    BrokerError,
    BrokerPortTakenError,
    BrokerUnhealthyError,
)
from infra.kafka.health import ClusterHealth, check_health
from infra.kafka.jars import kafka_classpath

KAFKA_MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL_MAIN_CLASS = "kafka.tools.StorageTool"


class StartOutcome(enum.Enum):
    LAUNCHED = "launched"
    """This call started a new broker process."""
    ALREADY_RUNNING = "already-running"
    """The broker recorded in this run dir's pid file was already running."""
    REUSED_EXISTING = "reused-existing"
    """Some other healthy Kafka already answers on the configured port; it is used as is."""


def new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding (like Uuid).

    Like Kafka's own ``Uuid.randomUuid()``, ids starting with "-" are rejected: the storage
    tool would parse such an id as an option (about 1 start in 64 failed before this).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not cluster_id.startswith("-"):
            return cluster_id


_LOG_FILES = ("server.log", "kafka.out")


class KafkaBroker:
    """Controls one single-node KRaft broker whose files live under ``config.run_dir``."""

    def __init__(self, config: BrokerConfig | None = None) -> None:
        self.config = config if config is not None else BrokerConfig()
        # Only set when this object launched the process; used to reap it (no zombies) and to
        # notice early that it died during startup.
        self._process: subprocess.Popen[bytes] | None = None
        self._log_sizes_at_launch: dict[str, int] = {}

    @property
    def bootstrap_servers(self) -> str:
        return self.config.bootstrap_servers

    def ensure_jars(self) -> list[Path]:
        """Return the broker's classpath, running Maven only if it is not cached yet."""
        return kafka_classpath(self.config)

    # -------------------------------------------------------------------------- process

    async def start(self, *, fresh_data: bool = False) -> StartOutcome:
        """Start the broker unless one is already usable; does not wait for it to be healthy.

        Idempotent: the broker of this run dir that is already running, or any healthy Kafka
        already answering on the configured port, is reused instead of launching another.
        ``fresh_data`` wipes the data dir first, only if this call launches the broker: a
        freshly formatted node starts ~3 s faster than a restarted one, whose previous broker
        registration the controller holds until the session times out.
        """
        if self.is_running():
            return StartOutcome.ALREADY_RUNNING
        with contextlib.suppress(BrokerUnhealthyError):
            await check_health(self.bootstrap_servers, timeout=3.0)
            return StartOutcome.REUSED_EXISTING
        for port in (self.config.port, self.config.controller_port):
            if port_accepts_connections(self.config.host, port):
                raise BrokerError(
                    f"{self.config.host}:{port} is taken by something that is not a healthy "
                    f"Kafka broker (or by a broker of another run dir); stop it or pick "
                    f"other ports"
                )
        # Maven (cold cache only) and the storage formatter are blocking JVM runs of seconds;
        # off the event loop they do not stall whatever else the caller's loop is doing.
        classpath = await asyncio.to_thread(self.ensure_jars)
        if fresh_data:
            shutil.rmtree(self.config.resolved_data_dir, ignore_errors=True)
        self._write_server_properties()
        await asyncio.to_thread(self._format_storage_if_needed, classpath)
        self._launch(classpath)
        return StartOutcome.LAUNCHED

    async def wait_healthy(self, timeout: float = 60.0) -> ClusterHealth:  # noqa: ASYNC109
        """Poll with real metadata requests until the broker answers or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        last_error: BrokerUnhealthyError | None = None
        while True:
            self.check_launched_alive()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnhealthyError(
                    f"broker at {self.bootstrap_servers} not healthy after {timeout:g}s "
                    f"({last_error}); last lines of its log:\n{self._log_tail()}"
                )
            try:
                health = await check_health(self.bootstrap_servers, timeout=min(5.0, remaining))
            except BrokerUnhealthyError as error:
                last_error = error
            else:
                if self.answered_by_us(health):
                    return health
                last_error = BrokerUnhealthyError(f"another cluster ({health.cluster_id}) answers")
            await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))

    def check_launched_alive(self) -> None:
        """Raise if the broker this object launched has exited (`BrokerPortTakenError` when
        it lost a port to another server that bound it first)."""
        if self._process is None or self._process.poll() is None:
            return
        log = self._log_tail()
        if "Address already in use" in self._log_since_launch():
            raise BrokerPortTakenError(
                f"{self.config.host}:{self.config.port} or :{self.config.controller_port} was "
                f"taken by another server that bound it first; pick other ports"
            )
        raise BrokerError(
            f"the broker exited with code {self._process.returncode} during startup; "
            f"last lines of its log:\n{log}"
        )

    def answered_by_us(self, health: ClusterHealth) -> bool:
        """Whether `health` came from the cluster this object formatted, when it launched
        the broker (the port could be another checkout's broker, that bound it first)."""
        if self._process is None:
            return True
        ours = self.cluster_id_on_disk()
        return ours is None or health.cluster_id == ours

    def cluster_id_on_disk(self) -> str | None:
        try:
            properties = (self.config.resolved_data_dir / "meta.properties").read_text()
        except FileNotFoundError:
            return None
        for line in properties.splitlines():
            if line.startswith("cluster.id="):
                return line.removeprefix("cluster.id=").strip()
        return None

    def is_running(self) -> bool:
        """Whether the broker process recorded in this run dir's pid file is alive."""
        if self._process is not None and self._process.poll() is not None:
            return False  # our own child exited (poll() also reaped it)
        pid = self._read_pid()
        return pid is not None and self._is_our_broker(pid)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM the broker (a clean shutdown), SIGKILL it after ``timeout`` seconds.

        Returns whether a running broker was stopped; safe to call when none is running.
        """
        pid = self._read_pid()
        if pid is None or not self._is_our_broker(pid):
            self.config.pid_file.unlink(missing_ok=True)
            self._reap()
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not self._wait_for_exit(pid, timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not self._wait_for_exit(pid, 10.0):
                raise BrokerError(f"broker pid {pid} survived SIGKILL")
        self.config.pid_file.unlink(missing_ok=True)
        self._reap()
        return True

    def pid(self) -> int | None:
        """The broker's pid while it runs."""
        pid = self._read_pid()
        return pid if pid is not None and self._is_our_broker(pid) else None

    def kill(self, timeout: float = 30.0) -> bool:
        """SIGKILL the broker (a crash: no controlled shutdown); returns whether it ran."""
        pid = self.pid()
        if pid is None:
            return False
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not self._wait_for_exit(pid, timeout):
            raise BrokerError(f"broker pid {pid} survived SIGKILL")
        self.config.pid_file.unlink(missing_ok=True)
        self._reap()
        return True

    # ------------------------------------------------------------------------- internals

    def _write_server_properties(self) -> None:
        config = self.config
        rendered = string.Template(SERVER_PROPERTIES_TEMPLATE.read_text()).substitute(
            node_id=config.node_id,
            host=config.host,
            port=config.port,
            controller_port=config.controller_port,
            quorum_voters=config.quorum_voters,
            data_dir=config.resolved_data_dir,
            initial_rebalance_delay_ms=config.initial_rebalance_delay_ms,
            replication_factor=config.replication_factor,
            min_insync_replicas=config.min_insync_replicas,
        )
        config.run_dir.mkdir(parents=True, exist_ok=True)
        config.server_properties_file.write_text(rendered)

    def _format_storage_if_needed(self, classpath: list[Path]) -> None:
        """``kafka-storage.sh format`` equivalent; KRaft refuses to start on unformatted dirs."""
        data_dir = self.config.resolved_data_dir
        if (data_dir / "meta.properties").is_file():
            return
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            *self._java_command(classpath, max_heap="256m"),
            STORAGE_TOOL_MAIN_CLASS,
            "format",
            "--cluster-id",
            self.config.cluster_id or new_cluster_id(),
            "--config",
            str(self.config.server_properties_file),
            "--ignore-formatted",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise BrokerError(
                f"formatting {data_dir} failed (exit {result.returncode}):\n"
                f"{result.stdout[-4000:]}{result.stderr[-4000:]}"
            )

    def _java_command(self, classpath: list[Path], max_heap: str) -> list[str]:
        java_home = os.environ.get("JAVA_HOME")
        java = str(Path(java_home) / "bin" / "java") if java_home else shutil.which("java")
        if java is None:
            raise BrokerError("`java` is not on PATH (and JAVA_HOME is not set)")
        log_dir = self.config.resolved_log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        return [
            java,
            f"-Xmx{max_heap}",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dkafka.logs.dir={log_dir}",
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
            "-cp",
            os.pathsep.join(str(jar) for jar in classpath),
        ]

    def _launch(self, classpath: list[Path]) -> None:
        self._log_sizes_at_launch = {name: self._log_size(name) for name in _LOG_FILES}
        command = [
            *self._java_command(classpath, max_heap=self.config.max_heap),
            KAFKA_MAIN_CLASS,
            str(self.config.server_properties_file),
        ]
        jvm_output = self.config.resolved_log_dir / "kafka.out"
        with jvm_output.open("ab") as output:
            # A new session detaches the broker from our terminal and process group, so
            # Ctrl-C in a test run or the CLI exiting does not take the broker down with it.
            self._process = subprocess.Popen(  # noqa: S603
                command,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                cwd=self.config.run_dir,
                start_new_session=True,
            )
        self.config.pid_file.write_text(f"{self._process.pid}\n")

    def _read_pid(self) -> int | None:
        try:
            return int(self.config.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _is_our_broker(self, pid: int) -> bool:
        """Alive, not a zombie, and really the broker of this run dir (pids get reused)."""
        proc = Path("/proc") / str(pid)
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        expected_properties = str(self.config.server_properties_file).encode()
        return state != "Z" and KAFKA_MAIN_CLASS.encode() in argv and expected_properties in argv

    def _wait_for_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.pid == pid:
                if self._process.poll() is not None:
                    return True
            elif not self._is_our_broker(pid):
                return True
            time.sleep(0.1)
        return False

    def _reap(self) -> None:
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=1)
            self._process = None

    def _log_size(self, name: str) -> int:
        path = self.config.resolved_log_dir / name
        return path.stat().st_size if path.is_file() else 0

    def _log_since_launch(self) -> str:
        written = []
        for name, size in self._log_sizes_at_launch.items():
            path = self.config.resolved_log_dir / name
            if path.is_file():
                with path.open("rb") as log:
                    log.seek(size)
                    written.append(log.read().decode(errors="replace"))
        return "\n".join(written)

    def _log_tail(self, lines: int = 30) -> str:
        tails = []
        for name in _LOG_FILES:
            path = self.config.resolved_log_dir / name
            if path.is_file():
                content = path.read_text(errors="replace").splitlines()[-lines:]
                tails.append(f"--- {path}\n" + "\n".join(content))
        return "\n".join(tails) or "(no log written)"
