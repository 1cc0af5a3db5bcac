"""The bench's accounting: what each path cost, the cores at the goal, which baseline counts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import cpu
from bench.tracker_throughput import Figures, PathRun, cores_at_goal, faster

pytestmark = pytest.mark.skipif(not cpu.available(), reason="reads /proc (Linux)")

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def _burn(seconds: float) -> list[str]:
    return [sys.executable, "-c", BURN.format(seconds=seconds)]


def test_a_tree_counts_its_live_children_and_those_it_reaped() -> None:
    # A shell that has run one busy child to the end, and waits on a second that is busy.
    script = f"{subprocess.list2cmdline(_burn(0.4))}; {subprocess.list2cmdline(_burn(30))}"
    shell = subprocess.Popen(["/bin/sh", "-c", script])
    try:
        spent = 0.0
        for _ in range(200):  # until the second child has burnt a little too
            spent = cpu.tree_cpu_seconds(shell.pid)
            if spent >= 0.6:
                break
            time.sleep(0.05)
        assert spent >= 0.6  # 0.4 s of the reaped child, and the live one's
    finally:
        shell.kill()
        shell.wait()


def test_a_process_name_with_spaces_and_parentheses_parses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = cpu._ticks_per_second()
    for pid, parent, name, times in [
        (10, 1, "postgres", (100, 50, 0, 0)),
        (11, 10, "postgres: walwriter (x) ", (7, 3, 0, 0)),
        (12, 10, "postgres: bench tracker", (20, 10, 5, 5)),
        (13, 1, "java", (1000, 1000, 0, 0)),
    ]:
        (tmp_path / str(pid)).mkdir()
        fields = ["S", str(parent), *["0"] * 9, *map(str, times), "20", "0"]
        (tmp_path / str(pid) / "stat").write_text(f"{pid} ({name}) {' '.join(fields)}\n")
    monkeypatch.setattr(cpu, "PROC", tmp_path)

    assert cpu.tree_cpu_seconds(10) == pytest.approx((150 + 10 + 40) / ticks)
    assert cpu.tree_cpu_seconds(12) == pytest.approx(40 / ticks)
    assert cpu.tree_cpu_seconds(10, 13) == pytest.approx((200 + 2000) / ticks)
    assert cpu.tree_cpu_seconds(99) == 0.0  # gone


def test_the_process_listening_on_a_port_is_found() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert cpu.listening_pid(port) == os.getpid()
    assert cpu.listening_pid(port) is None


def test_a_meter_charges_the_servers_only_what_they_spent_meanwhile() -> None:
    busy = subprocess.Popen(_burn(30))
    try:
        servers = cpu.Servers(database_pid=busy.pid, broker_pid=None)
        meter = cpu.Meter(servers)
        subprocess.run(_burn(0.3), check=True)
        cost = meter.cost(consumer_seconds=1.5)
    finally:
        busy.kill()
        busy.wait()
    assert cost is not None
    assert cost.consumer == 1.5
    assert cost.database is not None
    assert 0.1 < cost.database < 5
    assert cost.broker is None  # unknown, not zero
    assert cost.machine >= cost.database  # the machine also ran the burner and us
    per_event = cost.per_event_us(1000)
    assert per_event["consumer"] == pytest.approx(1500)
    assert per_event["broker"] is None


def test_the_figures_say_how_many_cores_the_goal_would_need() -> None:
    # 10,000 events: the baseline took 1 s (10,000 events/s); the tracker took 5 s and
    # the machine spent 8 CPU seconds on it, 800 us an event. At the goal, half the
    # baseline's rate (5,000 events/s), that is 4 cores.
    tracker = cpu.CpuCost(consumer=5.0, database=2.0, broker=None, machine=8.0)
    baseline = cpu.CpuCost(consumer=0.5, database=0.3, broker=0.1, machine=1.0)
    figures = Figures(
        events=10_000,
        baseline_seconds=1.0,
        tracker_seconds=5.0,
        costs={"baseline": baseline, "tracker": tracker},
    )
    assert cores_at_goal(tracker, 10_000, figures.baseline_rate) == pytest.approx(4.0)
    table = figures.table()
    assert "keep 4.0 cores busy" in table
    [tracker_line] = [line for line in table.splitlines() if line.startswith("tracker  ")]
    assert tracker_line.split() == ["tracker", "500", "200", "–", "800", "1.60"]
    [baseline_line] = [line for line in table.splitlines() if line.startswith("baseline  ")]
    assert baseline_line.split() == ["baseline", "50", "30", "10", "100", "1.00"]


def test_the_baseline_counts_its_faster_run_and_the_table_shows_both() -> None:
    # The machine's speed drifts between runs: the ratio is taken against the faster
    # baseline run, so a slow spell while the baseline ran cannot flatter the tracker.
    before, after = PathRun(seconds=2.0, cpu_seconds=1.0), PathRun(seconds=1.0, cpu_seconds=0.9)
    assert faster(before, after) is after
    assert faster(after, before) is after
    figures = Figures(
        events=10_000,
        baseline_seconds=faster(before, after).seconds,
        tracker_seconds=4.0,
        baseline_runs=(before.seconds, after.seconds),
    )
    assert figures.ratio == pytest.approx(0.25)
    assert "before and after the other paths: 5,000, 10,000 events/s" in figures.table()
