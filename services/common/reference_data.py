"""Reads the corridor reference data a service runs with: locations and customs offices.

The shipped files come from the `corridor.data` package; an operator's extra office list
(`CUSTOMS_OFFICES_EXTRA_FILE`) is read after them, so it may add offices or move one.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from corridor.customs_offices import with_customs_offices
from corridor.errors import ReferenceDataError
from corridor.reference import CorridorReference, load_reference

SHIPPED_OFFICES = "customs_offices.csv"


def load_corridor_reference(extra_offices: Path | None = None) -> CorridorReference:
    """The shipped reference data with the shipped office list, then `extra_offices`."""
    lists = [
        (SHIPPED_OFFICES, resources.files("corridor.data").joinpath(SHIPPED_OFFICES).read_text()),
    ]
    if extra_offices is not None:
        try:
            lists.append((str(extra_offices), extra_offices.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ReferenceDataError(
                "CUSTOMS_OFFICES_EXTRA_FILE", f"{extra_offices} cannot be read: {exc}"
            ) from None
    return with_customs_offices(load_reference(), lists)
