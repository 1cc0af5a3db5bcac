"""`python -m simulator generate|replay`: the simulator's command line."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Annotated, TextIO, TypeVar

import httpx
import typer
from tqdm import tqdm

from simulator.config import (
    DEFAULT_CARRIERS,
    DEFAULT_START,
    FaultProfile,
    FaultRates,
    JourneyMix,
    SimulationConfig,
)
from simulator.files import Checkpoint, CheckpointMismatch, FileRecord, Position, read_records
from simulator.simulation import SimulationResult, simulate
from simulator.sinks import (
    HttpSink,
    KafkaSink,
    NdjsonSink,
    Pacer,
    Record,
    Sink,
    SinkError,
    kafka_producer,
    record_json,
    replay,
    with_invalid,
)
from simulator.truth import write_truth

app = typer.Typer(help="Seeded Middle Corridor traffic: events, faults and ground truth.")
T = TypeVar("T")

Seed = Annotated[
    int, typer.Option(help="RNG seed; the same seed and options give identical output.")
]
Consignments = Annotated[
    int, typer.Option(min=1, help="Number of consignments declared in the window.")
]
Days = Annotated[float, typer.Option(min=0.01, help="Length of the simulated window, in days.")]
Start = Annotated[
    datetime,
    typer.Option(
        formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"],
        help="Window start (UTC), e.g. 2026-03-02.",
    ),
]
RoadShare = Annotated[
    float, typer.Option(min=0.0, max=1.0, help="Share of road consignments; the rest go by rail.")
]
Faults = Annotated[
    FaultProfile, typer.Option(help="Fault preset: clean (none) or faulty (every fault kind).")
]
Journeys = Annotated[
    bool,
    typer.Option(
        "--journeys/--regular-only",
        help="Every kind of journey (rejected, cancelled, incidents, ...) at its assumed share, "
        "or only journeys that go as declared.",
    ),
]
Carriers = Annotated[
    str,
    typer.Option(help="Comma-separated carrier ids (carrier-kz-01 form gives the permit country)."),
]
Capacity = Annotated[
    float | None,
    typer.Option(help="Scale on real daily capacities; default sizes them to the run's volume."),
]
TruthPath = Annotated[
    Path | None, typer.Option("--truth", help="Write the ground truth JSON here.")
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar and no summary.")]
IncludeInvalid = Annotated[
    bool,
    typer.Option(help="Interleave contract-breaking payloads into the stream (negative tests)."),
]
SummaryPath = Annotated[
    Path | None, typer.Option("--summary-json", help="Write the run summary as JSON here.")
]


def _config(
    seed: int,
    consignments: int,
    days: float,
    start: datetime,
    road_share: float,
    faults: FaultProfile,
    carriers: str,
    capacity_scale: float | None,
    journeys: bool = True,
) -> SimulationConfig:
    if start.tzinfo is None:
        start = start.replace(tzinfo=DEFAULT_START.tzinfo)
    return SimulationConfig(
        seed=seed,
        consignments=consignments,
        days=days,
        start=start,
        road_share=road_share,
        faults=FaultRates.preset(faults),
        journeys=JourneyMix() if journeys else JourneyMix.regular_only(),
        carriers=tuple(c.strip() for c in carriers.split(",") if c.strip()),
        capacity_scale=capacity_scale,
    )


def _progress(items: Iterable[T], quiet: bool, unit: str = "ev") -> Iterator[T]:
    enabled = not quiet and sys.stderr.isatty()
    return iter(tqdm(items, unit=unit, disable=not enabled, file=sys.stderr, mininterval=0.5))


def _finish(
    result: SimulationResult, truth: Path | None, summary: Path | None, quiet: bool
) -> None:
    if truth is not None:
        write_truth(result.truth, truth, result.config.model_dump(mode="json"))
    if summary is not None:
        summary.write_text(json.dumps(result.summary.to_dict(), indent=2) + "\n", encoding="utf-8")
    if not quiet:
        typer.echo(result.summary.render(), err=True)


_DEFAULT_CARRIERS = ",".join(DEFAULT_CARRIERS)


@app.command()
def generate(
    seed: Seed = 7,
    consignments: Consignments = 300,
    days: Days = 30.0,
    start: Start = DEFAULT_START,
    road_share: RoadShare = 0.7,
    faults: Faults = FaultProfile.CLEAN,
    journeys: Journeys = True,
    carriers: Carriers = _DEFAULT_CARRIERS,
    capacity_scale: Capacity = None,
    out: Annotated[str, typer.Option(help="NDJSON output file, or - for stdout.")] = "-",
    truth: TruthPath = None,
    invalid: Annotated[
        Path | None, typer.Option(help="Write the invalid payloads, one per line, to this file.")
    ] = None,
    include_invalid: IncludeInvalid = False,
    summary_json: SummaryPath = None,
    quiet: Quiet = False,
) -> None:
    """Generate events to NDJSON (one TransitEvent JSON per line, in delivery order)."""
    config = _config(
        seed, consignments, days, start, road_share, faults, carriers, capacity_scale, journeys
    )
    result = simulate(config)
    records: Iterable[Record] = result.deliveries
    if include_invalid:
        records = with_invalid(result.deliveries, result.invalid_payloads)
    with ExitStack() as stack:
        stream: TextIO = sys.stdout
        if out != "-":
            stream = stack.enter_context(open(out, "w", encoding="utf-8", buffering=1 << 20))
        write = stream.write
        for record in _progress(records, quiet):
            write(record_json(record))
            write("\n")
        stream.flush()
    if invalid is not None:
        with invalid.open("w", encoding="utf-8") as bad:
            bad.writelines(record_json(p) + "\n" for p in result.invalid_payloads)
    _finish(result, truth, summary_json, quiet)


def _sink(to: str, api_key: str | None, topic: str, timeout: float) -> Sink:
    if to.startswith(("http://", "https://")):
        if not api_key:
            raise typer.BadParameter("an HTTP target needs --api-key (or CORRIDOR_API_KEY)")
        client = httpx.AsyncClient(base_url=to.rstrip("/"), timeout=timeout)
        return HttpSink(client, api_key)
    if to.startswith("kafka://"):
        return KafkaSink(kafka_producer(to.removeprefix("kafka://")), topic)
    if to == "-":
        return NdjsonSink(sys.stdout)
    return NdjsonSink(open(to, "w", encoding="utf-8"), owned=True)


@app.command("replay")
def replay_command(
    to: Annotated[
        str,
        typer.Option(help="http(s)://ingest-host:port, kafka://host:port, a file path, or -."),
    ],
    file: Annotated[
        Path | None,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="NDJSON to send line by line (what generate writes, or a real export); "
            "without it, events are generated from the options below.",
        ),
    ] = None,
    rate: Annotated[
        float,
        typer.Option(min=0.0, help="With FILE: lines per second; 0 sends as fast as possible."),
    ] = 0.0,
    checkpoint: Annotated[
        Path | None,
        typer.Option(
            help="With FILE: record progress here after every batch the target took, and "
            "resume from it when it exists."
        ),
    ] = None,
    seed: Seed = 7,
    consignments: Consignments = 300,
    days: Days = 30.0,
    start: Start = DEFAULT_START,
    road_share: RoadShare = 0.7,
    faults: Faults = FaultProfile.CLEAN,
    journeys: Journeys = True,
    carriers: Carriers = _DEFAULT_CARRIERS,
    capacity_scale: Capacity = None,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="CORRIDOR_API_KEY", help="Bearer key for the ingest API."),
    ] = None,
    topic: Annotated[
        str, typer.Option(help="Kafka topic for kafka:// targets.")
    ] = "corridor.transit-events",
    batch_size: Annotated[
        int, typer.Option(min=1, help="Records per HTTP request or Kafka flush.")
    ] = 500,
    compress: Annotated[
        float,
        typer.Option(
            min=0.0, help="Simulated seconds per real second; 0 sends as fast as possible."
        ),
    ] = 0.0,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="HTTP timeout per request, seconds.")
    ] = 30.0,
    include_invalid: IncludeInvalid = False,
    truth: TruthPath = None,
    summary_json: SummaryPath = None,
    quiet: Quiet = False,
) -> None:
    """Send events to the ingest API, Kafka or a file: FILE's lines, or generated ones
    paced by delivery time."""
    key = api_key or os.environ.get("CORRIDOR_API_KEY")
    if file is not None:
        progress = Checkpoint(checkpoint, file) if checkpoint else None
        try:
            resume_at = progress.load() if progress else Position()
        except CheckpointMismatch as exc:
            raise typer.BadParameter(str(exc), param_hint="--checkpoint") from exc
        sink = _sink(to, key, topic, timeout)
        _replay_file(file, resume_at, progress, sink, to, batch_size, rate, quiet)
        return
    if checkpoint is not None:
        raise typer.BadParameter("--checkpoint needs a FILE: generated runs restart from the seed")
    sink = _sink(to, key, topic, timeout)
    config = _config(
        seed, consignments, days, start, road_share, faults, carriers, capacity_scale, journeys
    )
    result = simulate(config)
    records: Iterable[Record] = result.deliveries
    if include_invalid:
        records = with_invalid(result.deliveries, result.invalid_payloads)
    try:
        stats = asyncio.run(
            replay(_progress(records, quiet), sink, batch_size=batch_size, pacer=Pacer(compress))
        )
    except SinkError as exc:
        typer.echo(f"replay to {to} failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    _finish(result, truth, summary_json, quiet)
    if not quiet:
        typer.echo(stats.render(), err=True)


def _replay_file(
    file: Path,
    start: Position,
    checkpoint: Checkpoint | None,
    sink: Sink,
    to: str,
    batch_size: int,
    rate: float,
    quiet: bool,
) -> None:
    records = read_records(file, start.offset, start.lines)
    size = file.stat().st_size
    enabled = not quiet and sys.stderr.isatty()
    bar = tqdm(
        total=size,
        initial=start.offset,
        unit="B",
        unit_scale=True,
        disable=not enabled,
        file=sys.stderr,
        mininterval=0.5,
    )

    def sent(batch: Sequence[Record]) -> None:
        last = batch[-1]
        assert isinstance(last, FileRecord)
        bar.update(last.end_offset - bar.n)
        if checkpoint is not None:
            checkpoint.save(Position(last.end_offset, last.number))

    try:
        stats = asyncio.run(
            replay(records, sink, batch_size=batch_size, pacer=Pacer(rate), on_sent=sent)
        )
    except SinkError as exc:
        typer.echo(f"replay of {file} to {to} failed: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        bar.close()
    if not quiet:
        typer.echo(stats.render(), err=True)


def main() -> None:
    app()
