"""The shape of the code a newcomer can change: short modules and functions, and services
that reach storage through ports, built in their composition roots only."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ["corridor", "dashboards", "infra", "scripts", "services", "simulator", "storage"]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Functions that are declarative tables, longer than the limit by nature.
TABLES: set[str] = set()

# Storage modules that hold only types (rows written, views read, settings): any service
# may use them. Everything else in storage/ connects to the database.
STORAGE_TYPES = {"storage.rows", "storage.views", "storage.settings", "storage.progress"}
# Storage names that are plain data, defined beside a repository.
STORAGE_DATA = {
    ("storage.dead_letters", "DeadLetter"),
    ("storage.dead_letters", "StoredDeadLetter"),
}
# Where a service builds its storage concretes: its entry points, its command lines, and
# the tracker's store, which opens its own pool (services/tracker/app.py wires it), and
# the dispatcher's bootstrap.
COMPOSITION_ROOTS = {"services/tracker/store.py", "services/dispatcher/bootstrap.py"}


def sources() -> Iterator[Path]:
    for folder in SCANNED:
        yield from sorted((ROOT / folder).rglob("*.py"))


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def is_composition_root(path: Path) -> bool:
    name = relative(path)
    return path.name == "__main__.py" or path.stem.endswith("_cli") or name in COMPOSITION_ROOTS


def test_the_scan_sees_the_project() -> None:
    assert len(list(sources())) > 100


def test_no_module_is_longer_than_the_limit() -> None:
    long = {
        relative(path): lines
        for path in sources()
        if (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert long == {}


def test_no_function_is_longer_than_the_limit() -> None:
    long: dict[tuple[str, str], int] = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES and node.name not in TABLES:
                    long[(relative(path), node.name)] = length
    assert long == {}


def storage_imports(tree: ast.Module) -> Iterator[tuple[str, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage"):
            yield from ((node.module, alias.name) for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, "") for a in node.names if a.name.startswith("storage"))


def test_services_reach_storage_concretes_only_in_composition_roots() -> None:
    offenders = {
        relative(path): sorted(
            f"{module}.{name}"
            for module, name in storage_imports(ast.parse(path.read_text()))
            if module not in STORAGE_TYPES and (module, name) not in STORAGE_DATA
        )
        for path in (ROOT / "services").rglob("*.py")
        if not is_composition_root(path)
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_the_storage_rule_sees_the_composition_roots_use_storage() -> None:
    roots = [p for p in (ROOT / "services").rglob("*.py") if is_composition_root(p)]
    used = {m for p in roots for m, _ in storage_imports(ast.parse(p.read_text()))}
    assert {"storage.db", "storage.queries.api", "storage.writes"} <= used
