"""Which customs offices report for which corridor location: reference data an operator extends.

The shipped list is `corridor/data/customs_offices.csv`; a service may add a file of its
own (docs/ingest.md). Both are CSV with the header
`reference_number,location,name,illustrative,source`. This module parses the text it is
given and attaches the offices to the locations; reading the files is the services' job.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from pydantic import ValidationError

from corridor.errors import ReferenceDataError
from corridor.reference import CorridorReference, CustomsOffice

COLUMNS = ("reference_number", "location", "name", "illustrative", "source")
_FLAGS = {"true": True, "false": False}


def parse_customs_offices(text: str, origin: str) -> dict[str, tuple[str, CustomsOffice]]:
    """Office reference number -> (location code, office); errors name `origin` and the line."""
    rows = csv.DictReader(io.StringIO(text))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise ReferenceDataError(origin, f"the header must be {','.join(COLUMNS)}")
    offices: dict[str, tuple[str, CustomsOffice]] = {}
    for row in rows:
        where = f"{origin} line {rows.line_num}"
        flag = _FLAGS.get((row["illustrative"] or "").strip().lower())
        if flag is None:
            raise ReferenceDataError(f"{where} illustrative", "must be true or false")
        try:
            office = CustomsOffice(
                reference_number=(row["reference_number"] or "").strip(),
                name=(row["name"] or "").strip(),
                illustrative=flag,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ReferenceDataError(f"{where} {first['loc'][0]}", first["msg"]) from None
        if office.reference_number in offices:
            raise ReferenceDataError(where, f"office {office.reference_number} is listed twice")
        offices[office.reference_number] = ((row["location"] or "").strip(), office)
    return offices


def with_customs_offices(
    reference: CorridorReference, office_lists: Iterable[tuple[str, str]]
) -> CorridorReference:
    """The reference data with offices attached, from (origin, CSV text) pairs.

    A later list may add offices or move an office to another location; it cannot
    name a location the reference data does not have.
    """
    merged: dict[str, tuple[str, CustomsOffice]] = {}
    for origin, text in office_lists:
        for number, (code, office) in parse_customs_offices(text, origin).items():
            if not reference.has_location(code):
                raise ReferenceDataError(origin, f"office {number}: unknown location {code!r}")
            merged[number] = (code, office)
    by_location: dict[str, list[CustomsOffice]] = {}
    for code, office in merged.values():
        by_location.setdefault(code, []).append(office)
    document = reference.model_dump(mode="json", by_alias=True)
    for location in document["locations"]:
        location["customs_offices"] = [
            office.model_dump(mode="json") for office in by_location.get(location["code"], [])
        ]
    return CorridorReference.model_validate(document)
