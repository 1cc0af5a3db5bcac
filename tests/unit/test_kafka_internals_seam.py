"""faust's, mode's and aiokafka's private API is used in one package only
(`services/common/kafka_internals/`), so an upgrade means re-reading one place.

Private here: a name imported from those libraries that starts with an underscore; an
attribute starting with one that the project itself never defines (so it must be the
library's); the few public-looking members faust documents nowhere; and a subclass of
one of their classes (an override), except `mode.Service`, whose hooks are its API.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEAM = ROOT / "services" / "common" / "kafka_internals"
SCANNED = [
    "bench",
    "corridor",
    "dashboards",
    "infra",
    "scripts",
    "services",
    "simulator",
    "storage",
]
FRAMEWORKS = ("faust", "mode", "aiokafka")
UNDOCUMENTED = {"track_message", "consumer_generation_id"}
# Private-looking names of the standard library and pydantic, not of the frameworks.
NOT_FRAMEWORK = {"_exit", "_getframe", "_replace", "_asdict", "_fields", "_make", "_field_defaults"}
PUBLIC_BASES = {"mode.Service"}


def sources() -> Iterator[Path]:
    for folder in SCANNED:
        yield from (ROOT / folder).rglob("*.py")


def names_the_project_defines(trees: list[ast.Module]) -> set[str]:
    defined: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defined.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                defined.add(node.id)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defined.add(node.target.id)
            elif isinstance(node, ast.arg):
                defined.add(node.arg)
    return defined


def framework_aliases(tree: ast.Module) -> dict[str, str]:
    """Local name -> dotted framework name, for what a module imports from them."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in FRAMEWORKS:
                    aliases[alias.asname or alias.name.split(".")[0]] = alias.name
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FRAMEWORKS:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return aliases


def dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Subscript):
        return dotted(node.value)
    return ""


def private_uses(tree: ast.Module, defined: set[str]) -> list[str]:
    aliases = framework_aliases(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in FRAMEWORKS:
            modules = (node.module or "").split(".")
            names = [alias.name for alias in node.names]
            found += [f"import {n}" for n in [*modules, *names] if n.startswith("_")]
        elif isinstance(node, ast.Attribute):
            name = node.attr
            if name in UNDOCUMENTED or (
                name.startswith("_")
                and not name.startswith("__")
                and name not in defined
                and name not in NOT_FRAMEWORK
            ):
                found.append(f"line {node.lineno}: .{name}")
        elif isinstance(node, ast.ClassDef):
            for base in node.bases:
                head, _, rest = dotted(base).partition(".")
                origin = aliases.get(head)
                full = f"{origin}.{rest}".rstrip(".") if origin else ""
                if origin and full not in PUBLIC_BASES and dotted(base) not in PUBLIC_BASES:
                    found.append(f"line {node.lineno}: class {node.name}({dotted(base)})")
    return found


def in_the_seam(path: Path) -> bool:
    return SEAM in path.parents


def scan() -> dict[Path, list[str]]:
    trees = {path: ast.parse(path.read_text(), str(path)) for path in sources()}
    defined = names_the_project_defines([t for p, t in trees.items() if not in_the_seam(p)])
    return {path: uses for path, tree in trees.items() if (uses := private_uses(tree, defined))}


def test_private_framework_names_appear_only_in_the_seam() -> None:
    outside = {
        str(path.relative_to(ROOT)): uses for path, uses in scan().items() if not in_the_seam(path)
    }
    assert outside == {}


def test_the_scan_finds_what_the_seam_does() -> None:
    # The rule can fail: the seam's own uses are all caught, in whichever of its modules.
    uses = " ".join(use for path, found in scan().items() if in_the_seam(path) for use in found)
    for name in ("_current_event", "_acking_topics", "_active_agens"):
        assert name in uses
    for name in ("_stopped", "_thread", "_message_accumulator", "track_message"):
        assert name in uses
    assert "class DirectDeliveryConsumer" in uses
    assert "class SingleAssignmentFetchThread" in uses
    assert "class QuietMonitor(Monitor)" in uses
