"""`python -m bench --quick` runs end to end and prints every figure the docs quote.

It runs against the test session's broker and PostgreSQL (the harness's own servers
would cost a second JVM on a 2-core machine); the sizes are tiny, so the figures mean
nothing here, only that each scenario ran and produced a positive number.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
FIGURES = [
    "end-to-end: ingest -> queryable rows",
    "ingest: accepted into Kafka (acks=all)",
    "tracker RSS after the end-to-end run",
    "tracker alone: topic -> rows (catch-up)",
    "baseline: bare aiokafka consumer + COPY",
    "ceiling: Faust agent taking events, no work",
    "ceiling: Faust agent decoding, storing raw rows",
    "ratio tracker / baseline",
    "ratio Faust ceiling / baseline",
    "ratio decode+store ceiling / baseline",
    "ratio end-to-end / baseline",
    "CPU per event: baseline",
    "CPU per event: Faust ceiling",
    "CPU per event: decode+store ceiling",
    "CPU per event: tracker",
    "cores the tracker's goal rate needs",
    "event -> queryable latency p50",
    "event -> queryable latency p99",
    "ingest POST p50",
    "ingest POST p99",
]
# bench.api_latency owns the list of API cases; these must be among them.
API_ENDPOINTS = [
    "status",
    "timeline",
    "performance/locations (all, week)",
    "performance/crossings",
    "performance/legs",
]


CEILING = {
    "ceiling: Faust agent taking events, no work",
    "ceiling: Faust agent decoding, storing raw rows",
    "ratio Faust ceiling / baseline",
    "ratio decode+store ceiling / baseline",
    "CPU per event: Faust ceiling",
    "CPU per event: decode+store ceiling",
}
CATCH_UP = {
    "tracker alone: topic -> rows (catch-up)",
    "ratio tracker / baseline",
    "CPU per event: tracker",
    "cores the tracker's goal rate needs",
}


def _quick_bench(bootstrap: str, server_dsn: str, results_dir: Path, *options: str) -> list[str]:
    """`python -m bench --quick` against the test session's servers."""
    return [
        sys.executable,
        "-m",
        "bench",
        "--quick",
        "--bootstrap",
        bootstrap,
        "--server-dsn",
        server_dsn,
        "--results-dir",
        str(results_dir),
        *options,
    ]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param((), FIGURES, id="defaults"),
        pytest.param(
            ("--tracker-workers", "2", "--no-ceiling"),
            [figure for figure in FIGURES if figure not in CEILING],
            id="two-workers-no-ceiling",
        ),
        pytest.param(
            ("--no-catch-up",),
            [figure for figure in FIGURES if figure not in CATCH_UP],
            id="no-catch-up",
        ),
    ],
)
def test_quick_mode_prints_every_figure_and_writes_json(
    kafka_bootstrap: str,
    postgres_dsn_base: str,
    tmp_path: Path,
    options: tuple[str, ...],
    expected: list[str],
) -> None:
    done = subprocess.run(
        _quick_bench(kafka_bootstrap, postgres_dsn_base, tmp_path, *options),
        cwd=REPO_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    table = {}
    for line in done.stdout.splitlines():
        match = re.match(r"^(.+?)\s{2,}([\d,]+\.\d\d)\s+(\S+)", line)
        if match:
            table[match.group(1).strip()] = float(match.group(2).replace(",", ""))
    api = [figure for figure in table if figure.startswith("API ")]
    assert [figure for figure in table if figure not in api] == [
        *expected,
        "tracker RSS at the end",
    ], done.stdout
    assert {f"API {e} {q}" for e in API_ENDPOINTS for q in ("p50", "p99")} <= set(api)
    assert len(api) % 2 == 0
    assert "machine: " in done.stdout
    [written] = tmp_path.glob("bench-*.json")
    document = json.loads(written.read_text())
    assert [row["figure"] for row in document["rows"]] == list(table)
    # Every figure was measured. The JSON, not the print: on a loaded machine a ratio can
    # print as 0.00 while it is a measured 0.004.
    assert all(row["value"] > 0 for row in document["rows"]), done.stdout
    assert document["failures"] == []
    assert document["machine"]["cpus"] == os.cpu_count()
    assert document["scale"]["events"] > 0
    # The test's servers run here: the CPU rows charge the database and the broker too.
    cpu_rows = [row for row in document["rows"] if row["figure"].startswith("CPU per event")]
    assert cpu_rows
    assert all("not measured" not in row["note"] for row in cpu_rows), cpu_rows
    if "--tracker-workers" in options:
        # Both workers ran: the memory rows add up two processes and say so.
        assert document["scale"]["tracker_workers"] == 2
        memory = [row for row in document["rows"] if row["figure"].startswith("tracker RSS")]
        assert all(row["note"].startswith("2 workers together") for row in memory), memory


def _children(pid: int) -> dict[int, str]:
    """Live child processes of `pid`, with their command lines."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid:
            found[int(entry.name)] = cmdline
    return found


@pytest.mark.timeout(300)
def test_sigterm_stops_the_stack_it_started(
    kafka_bootstrap: str, postgres_dsn_base: str, tmp_path: Path
) -> None:
    # Stopping a long run must not leave ingest, tracker and API running behind it.
    log = tmp_path / "bench.out"
    with log.open("wb") as sink:
        bench = subprocess.Popen(
            _quick_bench(kafka_bootstrap, postgres_dsn_base, tmp_path),
            cwd=REPO_ROOT,
            env=os.environ.copy(),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 120
        stack: dict[int, str] = {}
        while time.monotonic() < deadline and bench.poll() is None:
            stack = {pid: cmd for pid, cmd in _children(bench.pid).items() if "services." in cmd}
            if len(stack) == 3:  # ingest, tracker, API
                break
            time.sleep(0.2)
        assert len(stack) == 3, f"stack never started ({bench.poll()}): {log.read_text()[-3000:]}"

        bench.send_signal(signal.SIGTERM)

        assert bench.wait(timeout=120) == 128 + signal.SIGTERM, log.read_text()[-3000:]
        assert [pid for pid in stack if Path(f"/proc/{pid}").exists()] == []
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
