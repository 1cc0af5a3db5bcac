"""The domain core stays pure: no broker, web, database or HTTP client, no clock reads."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import corridor

PACKAGE = Path(corridor.__file__).parent
FORBIDDEN = {
    "kafka",
    "aiokafka",
    "faust",
    "fastapi",
    "psycopg",
    "psycopg_pool",
    "httpx",
    "starlette",
}
CLOCK_READS = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"), ("time", "time")}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_roots(tree: ast.AST) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def clock_reads(tree: ast.AST) -> set[str]:
    return {
        f"{node.value.id}.{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and (node.value.id, node.attr) in CLOCK_READS
    }


def test_the_package_has_modules_to_check() -> None:
    assert len(modules()) >= 10


def test_no_module_imports_infrastructure() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(
            imported_roots(ast.parse(path.read_text())) & FORBIDDEN
        )
        for path in modules()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_no_module_reads_the_clock() -> None:
    offenders = {
        str(p.relative_to(PACKAGE)): clock_reads(ast.parse(p.read_text())) for p in modules()
    }
    assert {name: found for name, found in offenders.items() if found} == {}


def test_importing_corridor_loads_no_infrastructure() -> None:
    script = "import json, sys, corridor; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=PACKAGE.parent,
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert loaded & FORBIDDEN == set()
