"""`python -m bench`: the whole system's figures in one table (see bench/harness.py).

    python -m bench --quick                       # seconds: proves the harness runs
    python -m bench --events 1000000              # the figures of docs/benchmarks.md
    python -m bench --events 10000000 --no-ceiling --no-catch-up   # the 10M row
    python -m bench --bootstrap H:P --server-dsn URL   # servers you already run

Without --bootstrap/--server-dsn it starts a broker (127.0.0.1:39092) and a PostgreSQL
cluster ("bench", 127.0.0.1:35432) of its own and stops them at the end. The table is
also written as JSON under bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from bench.harness import (
    EVENTS_PER_CONSIGNMENT,
    QUICK,
    RESULTS_DIR,
    Scale,
    Servers,
    own_servers,
    run,
    save,
)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    scale = parser.add_argument_group("scale")
    scale.add_argument("--events", type=int, help="events posted end to end (default 100000)")
    scale.add_argument(
        "--consignments",
        type=int,
        help=f"instead of --events: this many consignments (~{EVENTS_PER_CONSIGNMENT} events each)",
    )
    scale.add_argument("--rate", type=int, help="events/s of the latency run (default 1000)")
    scale.add_argument("--duration", type=float, help="seconds of the latency run (default 30)")
    scale.add_argument("--singles", type=int, help="single-event POSTs timed (default 300)")
    scale.add_argument("--api-requests", type=int, help="requests per API endpoint (default 200)")
    scale.add_argument("--timeout", type=float, help="longest wait for the tracker, seconds")
    scale.add_argument(
        "--tracker-workers", type=int, help="tracker workers sharing the partitions (default 1)"
    )
    scale.add_argument(
        "--no-ceiling",
        dest="ceiling",
        action="store_false",
        default=None,
        help="skip timing the do-nothing Faust agent (one pass over the topic less)",
    )
    scale.add_argument(
        "--no-catch-up",
        dest="catch_up",
        action="store_false",
        default=None,
        help="skip timing the tracker alone over the filled topic (one pass less)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes: only proves it runs")
    parser.add_argument("--bootstrap", help="use this Kafka instead of starting one")
    parser.add_argument("--server-dsn", help="use this PostgreSQL server (maintenance database)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR, help="where the JSON goes")
    return parser.parse_args(argv)


def scale_of(args: argparse.Namespace) -> Scale:
    scale = QUICK if args.quick else Scale()
    if args.consignments is not None:
        scale = dataclasses.replace(scale, events=args.consignments * EVENTS_PER_CONSIGNMENT)
    overrides = {
        name: getattr(args, name)
        for name in (
            "events",
            "rate",
            "duration",
            "singles",
            "api_requests",
            "timeout",
            "tracker_workers",
            "ceiling",
            "catch_up",
        )
        if getattr(args, name) is not None
    }
    return dataclasses.replace(scale, **overrides)


@contextlib.contextmanager
def servers_of(args: argparse.Namespace) -> Iterator[Servers]:
    if (args.bootstrap is None) != (args.server_dsn is None):
        raise SystemExit("give both --bootstrap and --server-dsn, or neither")
    if args.bootstrap is not None:
        yield Servers(args.bootstrap, args.server_dsn)
        return
    with own_servers() as servers:
        yield servers


def _exit_cleanly_on_sigterm() -> None:
    # Python's default SIGTERM ends the process at once, skipping every `finally`: the
    # stack's ingest, tracker and API processes and the servers it started would be left
    # running. As SystemExit the run unwinds, stopping what it started.
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))


def main(argv: list[str] | None = None) -> None:
    _exit_cleanly_on_sigterm()
    args = parse(argv)
    scale = scale_of(args)
    with servers_of(args) as servers:
        report = asyncio.run(run(servers, scale))
    print(report.table())
    print(f"written to {save(report, args.results_dir)}")
    if report.failures:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
