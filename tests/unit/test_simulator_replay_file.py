"""`replay FILE`: an NDJSON file sent line by line, paced by rate, resumable by checkpoint."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.events import TransitEvent
from simulator import FaultRates, SimulationConfig, simulate
from simulator.cli import app
from simulator.files import Checkpoint, CheckpointMismatch, FileRecord, Position, read_records
from simulator.sinks import (
    KafkaSink,
    NdjsonSink,
    Pacer,
    Record,
    SinkStats,
    record_json,
    replay,
    with_invalid,
)
from tests.unit.test_simulator_sinks import RecordingProducer, Sleeps


def generated(tmp_path: Path, consignments: int = 6, *, faulty: bool = False) -> Path:
    faults = FaultRates.preset("faulty" if faulty else "clean")
    result = simulate(SimulationConfig(seed=5, consignments=consignments, days=10, faults=faults))
    path = tmp_path / "events.ndjson"
    records = (
        with_invalid(result.deliveries, result.invalid_payloads) if faulty else result.deliveries
    )
    path.write_text("".join(record_json(r) + "\n" for r in records), encoding="utf-8")
    return path


def test_replaying_a_generated_file_writes_it_back_line_for_line(tmp_path: Path) -> None:
    source = generated(tmp_path)
    copy = tmp_path / "copy.ndjson"
    outcome = CliRunner().invoke(app, ["replay", str(source), "--to", str(copy), "--quiet"])
    assert outcome.exit_code == 0, outcome.output
    assert copy.read_text() == source.read_text()


class FailingAfter(NdjsonSink):
    """Takes `batches` batches, then the target goes away."""

    def __init__(self, path: Path, batches: int) -> None:
        super().__init__(path.open("a", encoding="utf-8"), owned=True)
        self.left = batches

    async def send(self, batch: Sequence[Record]) -> None:
        if self.left == 0:
            raise ConnectionError("target went away")
        self.left -= 1
        await super().send(batch)


async def test_an_interrupted_replay_resumes_after_the_last_batch_taken(tmp_path: Path) -> None:
    source = generated(tmp_path)
    total = len(source.read_text().splitlines())
    checkpoint = Checkpoint(tmp_path / "progress.json", source)
    target = tmp_path / "target.ndjson"

    def save(batch: Sequence[Record]) -> None:
        last = batch[-1]
        assert isinstance(last, FileRecord)
        checkpoint.save(Position(last.end_offset, last.number))

    with pytest.raises(ConnectionError):
        await replay(read_records(source), FailingAfter(target, 2), batch_size=10, on_sent=save)
    resume = checkpoint.load()
    assert resume.lines == 20
    await replay(
        read_records(source, resume.offset, resume.lines), FailingAfter(target, 10**6), on_sent=save
    )
    assert target.read_text() == source.read_text()  # every line once, in order
    assert checkpoint.load() == Position(source.stat().st_size, total)


def test_the_cli_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    source = generated(tmp_path)
    lines = source.read_text().splitlines(keepends=True)
    progress = tmp_path / "progress.json"
    Checkpoint(progress, source).save(Position(len("".join(lines[:7]).encode()), 7))
    copy = tmp_path / "copy.ndjson"
    args = ["replay", str(source), "--to", str(copy), "--checkpoint", str(progress), "--quiet"]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code == 0, outcome.output
    assert copy.read_text() == "".join(lines[7:])
    assert json.loads(progress.read_text())["lines"] == len(lines)


def test_a_checkpoint_of_another_file_is_refused(tmp_path: Path) -> None:
    source = generated(tmp_path)
    other = tmp_path / "other.ndjson"
    other.write_text('{"different": true}\n')
    progress = tmp_path / "progress.json"
    Checkpoint(progress, other).save(Position(10, 1))
    with pytest.raises(CheckpointMismatch):
        Checkpoint(progress, source).load()
    copy = tmp_path / "copy.ndjson"
    args = ["replay", str(source), "--to", str(copy), "--checkpoint", str(progress), "-q"]
    outcome = CliRunner().invoke(app, args)
    assert outcome.exit_code != 0
    assert "another file" in outcome.output


async def test_a_rate_spaces_lines_evenly(tmp_path: Path) -> None:
    source = generated(tmp_path, consignments=2)
    count = len(source.read_text().splitlines())
    clock, sleep = [0.0], Sleeps()

    async def advance(seconds: float) -> None:
        await sleep(seconds)
        clock[0] += seconds

    pacer = Pacer(50, clock=lambda: clock[0])
    await replay(
        read_records(source),
        NdjsonSink((tmp_path / "o").open("w"), owned=True),
        pacer=pacer,
        sleep=advance,
    )
    assert sum(sleep.calls) == pytest.approx((count - 1) / 50)


async def test_lines_that_are_not_events_never_reach_kafka(tmp_path: Path) -> None:
    source = generated(tmp_path, faulty=True)
    with source.open("a") as out:  # an export with a line the contract refuses
        out.write('{"event_type":"gate.teleported","location":"ZZ-UNKNOWN-GATE"}\n')
    lines = source.read_text().splitlines()
    producer = RecordingProducer()
    stats: SinkStats = await replay(read_records(source), KafkaSink(producer, "t"), batch_size=64)
    valid = 0
    for line in lines:
        try:
            TransitEvent.model_validate_json(line)
            valid += 1
        except ValueError:
            pass
    assert 0 < valid < len(lines)
    assert (stats.accepted, stats.rejected) == (valid, len(lines) - valid)
    assert len(producer.sent) == valid
