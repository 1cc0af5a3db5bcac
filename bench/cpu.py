"""CPU time of process trees and of the whole machine, read from /proc (Linux only).

A rate alone cannot tell a path that is slow from one that is starved: the tracker,
PostgreSQL and the broker share this machine's cores. So each path of a throughput run
also reports what it cost in CPU per event, split between its own processes, the
database and the broker, and how many cores it kept busy. Multiplying a path's CPU per
event by a goal rate says how many cores that goal needs, whatever the machine.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
LISTEN = "0A"  # the TCP state code of a listening socket in /proc/net/tcp


def available() -> bool:
    return (PROC / "self" / "stat").is_file()


def _ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


def _process_stats() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks of the process and of the children it reaped)."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # it exited meanwhile
            continue
        # The command name may hold spaces and parentheses: fields start after the last ")".
        fields = text.rsplit(")", 1)[1].split()
        # After the name: state, ppid, ..., utime (14th field), stime, cutime, cstime.
        stats[int(entry.name)] = (int(fields[1]), sum(int(f) for f in fields[11:15]))
    return stats


def tree_cpu_seconds(*roots: int) -> float:
    """CPU seconds of each root and every live descendant, including the children they
    have reaped (a PostgreSQL backend that ended counts in the postmaster's total)."""
    stats = _process_stats()
    children: dict[int, list[int]] = defaultdict(list)
    for pid, (parent, _) in stats.items():
        children[parent].append(pid)
    ticks = 0
    pending = list(roots)
    while pending:
        pid = pending.pop()
        if pid in stats:
            ticks += stats[pid][1]
            pending.extend(children[pid])
    return ticks / _ticks_per_second()


def machine_cpu_seconds() -> float:
    """CPU seconds all cores spent busy since boot (everything but idle and iowait)."""
    first = (PROC / "stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, first[1:9])
    return (user + nice + system + irq + softirq + steal) / _ticks_per_second()


def listening_pid(port: int) -> int | None:
    """The local process listening on a TCP port (the postmaster, the broker's JVM), or
    None when no process here that we may look into listens on it."""
    sockets: set[str] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_address, state, inode = fields[1], fields[3], fields[9]
            if state == LISTEN and int(local_address.rsplit(":", 1)[1], 16) == port:
                sockets.add(f"socket:[{inode}]")
    if not sockets:
        return None
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:  # gone, or not ours to look into
            continue
        for descriptor in descriptors:
            try:
                if os.readlink(descriptor) in sockets:
                    return int(entry.name)
            except OSError:
                continue
    return None


@dataclass(frozen=True)
class CpuCost:
    """CPU seconds one path of a run cost: its own processes, the database, the broker,
    and the whole machine (which also counts the bench itself and anything else)."""

    consumer: float
    database: float | None  # None: its process isn't on this machine, or isn't visible
    broker: float | None
    machine: float

    def per_event_us(self, events: int) -> dict[str, float | None]:
        def per_event(seconds: float | None) -> float | None:
            return None if seconds is None else 1e6 * seconds / events

        return {
            "consumer": per_event(self.consumer),
            "database": per_event(self.database),
            "broker": per_event(self.broker),
            "machine": per_event(self.machine),
        }


@dataclass(frozen=True)
class Servers:
    """The database and broker processes a run's paths share (None: not found here)."""

    database_pid: int | None
    broker_pid: int | None

    @classmethod
    def listening_on(cls, database_port: int, broker_port: int) -> Servers:
        return cls(listening_pid(database_port), listening_pid(broker_port))

    def read(self) -> tuple[float | None, float | None, float]:
        database = tree_cpu_seconds(self.database_pid) if self.database_pid else None
        broker = tree_cpu_seconds(self.broker_pid) if self.broker_pid else None
        return database, broker, machine_cpu_seconds()


class Meter:
    """The database's, the broker's and the machine's CPU from construction until `cost` is
    asked for, with the CPU the path's own processes spent (only the path knows which
    processes those are). Without servers (no /proc here) it measures nothing."""

    def __init__(self, servers: Servers | None) -> None:
        self._servers = servers if servers is not None and available() else None
        self._start = self._servers.read() if self._servers is not None else None

    def cost(self, consumer_seconds: float) -> CpuCost | None:
        if self._servers is None or self._start is None:
            return None
        database, broker, machine = self._servers.read()
        database_before, broker_before, machine_before = self._start
        return CpuCost(
            consumer=consumer_seconds,
            database=_difference(database, database_before),
            broker=_difference(broker, broker_before),
            machine=machine - machine_before,
        )


def _difference(after: float | None, before: float | None) -> float | None:
    return None if after is None or before is None else after - before
