"""Every dashboard, rendered to deterministic JSON, and the committed copies under generated/."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from corridor.reference import CorridorReference, load_reference
from dashboards import alerts, consignment, legs, location_detail, overview

GENERATED_DIR = Path(__file__).parent / "generated"
FOLDER_UID = "middle-corridor"
FOLDER_TITLE = "Middle Corridor"


@dataclass(frozen=True)
class GeneratedDashboard:
    file_name: str
    model: Dashboard

    @property
    def uid(self) -> str:
        assert self.model.uid is not None
        return self.model.uid

    def as_dict(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(render(self.model))
        return loaded


def dashboards(reference: CorridorReference | None = None) -> list[GeneratedDashboard]:
    ref = reference if reference is not None else load_reference()
    boards = [
        overview.build(ref),
        location_detail.build(),
        legs.build(ref),
        alerts.build(),
        consignment.build(),
    ]
    return [GeneratedDashboard(f"{board.build().uid}.json", board.build()) for board in boards]


def render(model: Dashboard) -> str:
    """Sorted keys, two-space indent, UTF-8 text, trailing newline: stable in git diffs."""
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(directory: Path = GENERATED_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for board in dashboards():
        path = directory / board.file_name
        path.write_text(render(board.model), encoding="utf-8")
        written.append(path)
    return written


def differences(directory: Path = GENERATED_DIR) -> list[str]:
    """What differs between the committed JSON and what the code generates now."""
    expected = {board.file_name: render(board.model) for board in dashboards()}
    problems = []
    for name, text in sorted(expected.items()):
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing (run `python -m dashboards generate`)")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: differs from the code (run `python -m dashboards generate`)")
    for path in sorted(directory.glob("*.json")):
        if path.name not in expected:
            problems.append(f"{path.name}: no dashboard in the code generates it")
    return problems
