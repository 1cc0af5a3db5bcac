"""Every service listens on loopback only, and the tracker on no port at all.

`make up` and `make test` run side by side on one machine; a listener on every interface
or on a fixed port shared by both would let one break the other (faust's web server on
0.0.0.0:6066 once did).
"""

from __future__ import annotations

import os
import socket
import struct
from pathlib import Path

from tests.e2e.conftest import Stack

_LISTEN = "0A"


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _address(hex_address: str) -> tuple[str, int]:
    host, port = hex_address.split(":")
    if len(host) == 8:
        text = socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(host, 16)))
    else:
        words = struct.pack("<4I", *(int(host[i : i + 8], 16) for i in range(0, 32, 8)))
        text = socket.inet_ntop(socket.AF_INET6, words)
    return text, int(port, 16)


def listening(pid: int) -> set[tuple[str, int]]:
    """The TCP addresses process `pid` listens on (its own network namespace's tables)."""
    inodes = _socket_inodes(pid)
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == _LISTEN and fields[9] in inodes:
                found.add(_address(fields[1]))
    return found


def test_services_listen_on_loopback_only_and_the_tracker_not_at_all(stack: Stack) -> None:
    ingest_port = int(stack.ingest_url.rsplit(":", 1)[1])
    api_port = int(stack.api_url.rsplit(":", 1)[1])

    assert listening(stack.pids["ingest"]) == {("127.0.0.1", ingest_port)}
    assert listening(stack.pids["api"]) == {("127.0.0.1", api_port)}
    assert listening(stack.pids["tracker"]) == set()
    dispatcher_port = int(stack.dispatcher_metrics_url.rsplit(":", 1)[1])
    assert listening(stack.pids["dispatcher"]) == {("127.0.0.1", dispatcher_port)}
