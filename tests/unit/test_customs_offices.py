"""Customs offices as reference data: the shipped list, an operator's extra file, and
what a broken list says."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.customs_offices import with_customs_offices
from corridor.errors import InvalidEvent, ReferenceDataError
from corridor.reference import load_reference
from services.common.reference_data import load_corridor_reference
from services.ingest.adapters import ncts

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
HEADER = "reference_number,location,name,illustrative,source\n"


def test_every_location_has_an_office_and_published_numbers_are_marked() -> None:
    reference = load_corridor_reference()

    assert all(location.customs_offices for location in reference.locations)
    assert reference.location_of_office("TR220200") == "TR-KAPIKULE"
    assert reference.location_of_office("BG003103") == "BG-KAPITAN-ANDREEVO"
    kapikule = reference.location("TR-KAPIKULE").customs_offices
    assert not any(office.illustrative for office in kapikule)
    assert all(office.illustrative for office in reference.location("KZ-AKTAU").customs_offices)


def test_an_extra_file_adds_an_office_that_messages_then_map(tmp_path: Path) -> None:
    extra = tmp_path / "offices.csv"
    extra.write_text(HEADER + "KZ555001,KZ-AKTAU,Aktau second post,true,ours\n")
    body = (SAMPLES / "ncts_cc028c_mrn_allocated.xml").read_bytes()
    office = ncts.to_message(body, load_corridor_reference()).drafts[0].attributes.customs_office
    assert office is not None
    moved = body.replace(office.encode(), b"KZ555001")

    with pytest.raises(InvalidEvent, match="not mapped"):
        ncts.to_message(moved, load_corridor_reference())
    [draft] = ncts.to_message(moved, load_corridor_reference(extra)).drafts

    assert draft.location == "KZ-AKTAU"


def test_an_extra_file_can_move_a_shipped_office(tmp_path: Path) -> None:
    extra = tmp_path / "offices.csv"
    extra.write_text(HEADER + "KZ000123,KZ-ALTYNKOL,moved,false,national list\n")

    reference = load_corridor_reference(extra)

    assert reference.location_of_office("KZ000123") == "KZ-ALTYNKOL"
    assert not reference.location("KZ-NUR-ZHOLY").customs_offices


@pytest.mark.parametrize(
    ("rows", "field", "rule"),
    [
        ("TR22020,TR-KAPIKULE,x,false,s\n", "extra.csv line 2 reference_number", "pattern"),
        ("TR999999,TR-NOWHERE,x,false,s\n", "extra.csv", "unknown location 'TR-NOWHERE'"),
        ("TR999999,TR-KAPIKULE,x,maybe,s\n", "extra.csv line 2 illustrative", "true or false"),
        ("TR999999,TR-KAPIKULE,,false,s\n", "extra.csv line 2 name", "at least 1"),
        (
            "TR999999,TR-KAPIKULE,x,false,s\nTR999999,TR-SARP,y,false,s\n",
            "extra.csv line 3",
            "listed twice",
        ),
    ],
)
def test_a_broken_list_names_the_file_and_line(rows: str, field: str, rule: str) -> None:
    with pytest.raises(ReferenceDataError) as raised:
        with_customs_offices(load_reference(), [("extra.csv", HEADER + rows)])

    assert raised.value.field == field
    assert rule in raised.value.rule


def test_a_list_without_the_header_is_refused() -> None:
    with pytest.raises(ReferenceDataError, match="header"):
        with_customs_offices(load_reference(), [("extra.csv", "TR999999,TR-SARP,x,false,s\n")])


def test_an_unreadable_extra_file_names_the_setting_and_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.csv"

    with pytest.raises(ReferenceDataError) as raised:
        load_corridor_reference(missing)

    assert raised.value.field == "CUSTOMS_OFFICES_EXTRA_FILE"
    assert str(missing) in raised.value.rule
