"""Replaying an NDJSON file (what `generate` writes, or a real export in the same shape).

Lines are sent as they are, in file order; the ingest validates them as it would any
publisher's. A checkpoint file records how far the sink has durably taken the file, so
an interrupted backfill resumes where it stopped instead of starting over.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from corridor.events import TransitEvent

# Enough of the file to tell it apart from another one, cheap to re-read on resume.
_HEAD_BYTES = 64 * 1024
CHECKPOINT_FORMAT = "corridor-replay-checkpoint/1"


class CheckpointMismatch(Exception):
    """The checkpoint was written for another file: resuming would skip the wrong lines."""


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One line of the file; `deliver_ts` is its line number, so a `Pacer(rate)` sends
    `rate` lines a second."""

    line: str
    number: int  # 1-based line number in the file
    end_offset: int  # byte offset just past this line: where a resume starts

    @property
    def deliver_ts(self) -> int:
        return self.number

    def json(self) -> str:
        return self.line

    @property
    def event(self) -> TransitEvent:
        """The parsed event; raises pydantic's ValidationError for a line that is not one."""
        return TransitEvent.model_validate_json(self.line)


def read_records(path: Path, offset: int = 0, number: int = 0) -> Iterator[FileRecord]:
    """Non-blank lines from byte `offset` on, numbered after `number`."""
    with path.open("rb") as stream:
        stream.seek(offset)
        position = offset
        for raw in stream:
            position += len(raw)
            text = raw.decode("utf-8").strip()
            if text:
                number += 1
                yield FileRecord(text, number, position)


@dataclass(frozen=True, slots=True)
class Position:
    offset: int = 0
    lines: int = 0


class Checkpoint:
    """How far into `source` the sink has durably taken records, kept in `path`."""

    def __init__(self, path: Path, source: Path) -> None:
        self.path = path
        self.source = source
        self._head = _head_digest(source)

    def load(self) -> Position:
        """Where to resume: the start when there is no checkpoint yet."""
        if not self.path.exists():
            return Position()
        saved = json.loads(self.path.read_text(encoding="utf-8"))
        if saved.get("format") != CHECKPOINT_FORMAT or saved.get("head_sha256") != self._head:
            raise CheckpointMismatch(
                f"{self.path} was written for another file than {self.source}; "
                "remove it to replay from the start"
            )
        return Position(int(saved["offset"]), int(saved["lines"]))

    def save(self, position: Position) -> None:
        """Written beside and renamed over, so a crash leaves the old or the new one whole."""
        document = {
            "format": CHECKPOINT_FORMAT,
            "file": str(self.source),
            "head_sha256": self._head,
            "offset": position.offset,
            "lines": position.lines,
        }
        temporary = self.path.with_name(self.path.name + ".tmp")
        temporary.write_text(json.dumps(document) + "\n", encoding="utf-8")
        os.replace(temporary, self.path)


def _head_digest(path: Path) -> str:
    with path.open("rb") as stream:
        return hashlib.sha256(stream.read(_HEAD_BYTES)).hexdigest()
