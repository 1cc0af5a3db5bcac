"""The shipped reference data loads, and broken data fails naming the entry."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from corridor import ReferenceDataError, TransportMode, parse_reference
from tests.unit.factories import reference


def shipped() -> dict[str, Any]:
    raw = resources.files("corridor.data").joinpath("corridor.json").read_text()
    document: dict[str, Any] = json.loads(raw)
    return document


def test_the_shipped_data_loads_with_the_corridor_in_it() -> None:
    ref = reference()
    assert ref.location("KZ-AKTAU").country == "KZ"
    assert ref.has_location("GE-POTI")
    assert ref.route("road-nur-zholy-aktau-kapikule").locations[0] == "CN-KHORGOS"


def test_segments_are_symmetric_and_borders_unordered() -> None:
    ref = reference()
    there, back = ref.segment("KZ-AKTAU", "AZ-ALAT"), ref.segment("AZ-ALAT", "KZ-AKTAU")
    assert there is not None
    assert there == back
    assert there.mode is TransportMode.SEA
    assert ref.segment("CN-KHORGOS", "GE-POTI") is None
    border = ref.border_between("TR-SARP", "GE-SARPI")
    assert border is not None
    assert border.id == "sarpi-sarp"


def test_every_route_step_has_a_segment() -> None:
    ref = reference()
    for route in ref.routes:
        for a, b in zip(route.locations, route.locations[1:], strict=False):
            assert ref.segment(a, b) is not None, (route.id, a, b)


def test_unknown_codes_raise_reference_errors() -> None:
    with pytest.raises(ReferenceDataError, match="XX-NOWHERE"):
        reference().location("XX-NOWHERE")
    with pytest.raises(ReferenceDataError, match="no-such-route"):
        reference().route("no-such-route")


def test_a_route_naming_an_unknown_location_fails_naming_the_route() -> None:
    document = shipped()
    document["routes"][0]["locations"][2] = "KZ-NOWHERE"
    with pytest.raises(ReferenceDataError) as raised:
        parse_reference(json.dumps(document))
    assert "road-nur-zholy-aktau-kapikule" in str(raised.value)
    assert "KZ-NOWHERE" in str(raised.value)


def test_a_bad_latitude_fails_naming_the_location() -> None:
    document = shipped()
    document["locations"][11]["lat"] = 143.64
    with pytest.raises(ReferenceDataError) as raised:
        parse_reference(json.dumps(document))
    assert raised.value.field == "locations[11] (KZ-AKTAU).lat"


def test_a_one_sided_counterpart_fails() -> None:
    document = shipped()
    document["locations"][1]["counterparts"] = []
    with pytest.raises(ReferenceDataError, match="not named back"):
        parse_reference(json.dumps(document))


def test_invalid_json_fails() -> None:
    with pytest.raises(ReferenceDataError, match="JSON"):
        parse_reference("{")
