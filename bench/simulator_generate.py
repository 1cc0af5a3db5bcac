"""Time generating N simulator events to an NDJSON file; print events/s and peak RSS.

.venv/bin/python -m bench.simulator_generate [--events 1000000] [--faults clean|faulty]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

from simulator.config import FaultRates, SimulationConfig
from simulator.simulation import simulate
from simulator.sinks import record_json

EVENTS_PER_CONSIGNMENT = 40  # about what a 30-day-plus window yields; we stop at N anyway


def run(events: int, faults: str, out: Path) -> None:
    consignments = events // EVENTS_PER_CONSIGNMENT + 1
    config = SimulationConfig(
        seed=1,
        consignments=consignments,
        days=max(30.0, consignments / 80),  # ~80 consignments a day
        faults=FaultRates.preset(faults),
    )
    began = time.perf_counter()
    result = simulate(config)
    planned = time.perf_counter()
    written = 0
    with out.open("w", encoding="utf-8", buffering=1 << 20) as stream:
        for delivery in result.deliveries:
            stream.write(record_json(delivery))
            stream.write("\n")
            written += 1
            if written >= events:
                break
    finished = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    elapsed = finished - began
    machine = platform.processor() or platform.machine()
    print(f"machine: {machine}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"consignments: {consignments}, window: {config.days:.0f} days, faults: {faults}")
    print(f"events written: {written} ({out.stat().st_size / 1e6:.0f} MB)")
    print(f"journeys: {planned - began:.2f} s; streaming: {finished - planned:.2f} s")
    print(f"total: {elapsed:.2f} s, {written / elapsed:,.0f} events/s")
    print(f"peak RSS: {peak_kib / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--faults", choices=["clean", "faulty"], default="clean")
    parser.add_argument("--out", type=Path, default=None, help="default: a temporary file")
    args = parser.parse_args()
    if args.out is not None:
        run(args.events, args.faults, args.out)
        return
    with tempfile.TemporaryDirectory() as tmp:
        run(args.events, args.faults, Path(tmp) / "events.ndjson")


if __name__ == "__main__":
    main()
