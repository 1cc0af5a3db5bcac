"""Test-suite wiring: the real-infrastructure fixtures, and markers by folder.

tests/unit         pure, milliseconds, no I/O
tests/integration  the real Kafka broker and PostgreSQL (started by the fixtures)
tests/e2e          the whole stack: simulator -> ingest -> Kafka -> tracker -> database -> API
"""

from __future__ import annotations

from pathlib import Path

import pytest

_TESTS = Path(__file__).parent

pytest_plugins = ["tests.fixtures.kafka", "tests.fixtures.postgres", "tests.fixtures.corridor_data"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).relative_to(_TESTS).parts[0]
        if folder == "integration":
            item.add_marker(pytest.mark.integration)
        elif folder == "e2e":
            item.add_marker(pytest.mark.e2e)
