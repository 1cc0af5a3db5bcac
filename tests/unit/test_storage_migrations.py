"""Migration file discovery: backend picking and refusal of inconsistent sets."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.backend import Backend
from storage.migrate import MigrationError, discover


def _write(directory: Path, *names: str) -> Path:
    for name in names:
        (directory / name).write_text(f"-- {name}\nSELECT 1;\n")
    return directory


def test_shipped_migrations_are_consistent_for_both_backends() -> None:
    pg, ts = discover(Backend.POSTGRESQL), discover(Backend.TIMESCALEDB)
    assert [m.version for m in pg] == [m.version for m in ts] == sorted({m.version for m in pg})
    assert any(m.filename.endswith(".postgresql.sql") for m in pg)
    assert any(m.filename.endswith(".timescaledb.sql") for m in ts)


def test_backend_file_is_picked(tmp_path: Path) -> None:
    _write(tmp_path, "0001_a.sql", "0002_b.postgresql.sql", "0002_b.timescaledb.sql")
    assert [m.filename for m in discover(Backend.POSTGRESQL, tmp_path)] == [
        "0001_a.sql",
        "0002_b.postgresql.sql",
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (("0001_a.postgresql.sql",), "one file per backend"),
        (("0001_a.sql", "0001_a.postgresql.sql", "0001_a.timescaledb.sql"), "cannot coexist"),
        (("0001_a.postgresql.sql", "0001_b.timescaledb.sql"), "disagree on the name"),
        (("0001_a.mysql.sql",), "unknown backend"),
        (("1_a.sql",), "not NNNN_name.sql"),
    ],
)
def test_inconsistent_sets_are_refused(
    tmp_path: Path, names: tuple[str, ...], message: str
) -> None:
    _write(tmp_path, *names)
    with pytest.raises(MigrationError, match=message):
        discover(Backend.POSTGRESQL, tmp_path)


def test_checksum_ignores_line_endings(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\r\n")
    (migration,) = discover(Backend.POSTGRESQL, tmp_path)
    (tmp_path / "0001_a.sql").write_bytes(b"SELECT 1;\n")
    assert discover(Backend.POSTGRESQL, tmp_path)[0].checksum == migration.checksum
