"""Validation against official NCTS XSDs an operator supplies (INGEST_NCTS_XSD_DIR),
with small schemas of our own written here: the official ones are never committed."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.errors import InvalidEvent, ReferenceDataError
from services.common.reference_data import load_corridor_reference
from services.ingest.adapters import ncts
from services.ingest.adapters.ncts_xsd import OfficialXsds

SAMPLES = Path(__file__).parents[1] / "fixtures" / "ingest_samples"
REFERENCE = load_corridor_reference()


def _schema(max_sender_length: int, extra: str = "") -> str:
    """A CC015C schema checking only messageSender's length; the rest is skipped."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
{extra}
<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"
           targetNamespace="http://ncts.dgtaxud.ec" elementFormDefault="unqualified">
  <xs:element name="CC015C">
    <xs:complexType>
      <xs:sequence>
        <xs:element name="messageSender">
          <xs:simpleType>
            <xs:restriction base="xs:string">
              <xs:maxLength value="{max_sender_length}"/>
            </xs:restriction>
          </xs:simpleType>
        </xs:element>
        <xs:any namespace="##local" processContents="skip" minOccurs="0" maxOccurs="unbounded"/>
      </xs:sequence>
      <xs:anyAttribute processContents="skip"/>
    </xs:complexType>
  </xs:element>
</xs:schema>
"""


def _load(directory: Path, schema: str) -> OfficialXsds:
    directory.mkdir(exist_ok=True)
    (directory / "cc015c.xsd").write_text(schema)
    return OfficialXsds.load(directory, ncts.message_types())


def test_a_message_the_official_schema_accepts_is_mapped(tmp_path: Path) -> None:
    xsds = _load(tmp_path, _schema(35))
    body = (SAMPLES / "ncts_cc015c_declaration.xml").read_bytes()

    message = ncts.to_message(body, REFERENCE, official=xsds)

    assert xsds.message_types == {"CC015C"}
    assert len(message.drafts) == 1


def test_a_message_the_official_schema_refuses_names_the_element(tmp_path: Path) -> None:
    xsds = _load(tmp_path, _schema(3))
    body = (SAMPLES / "ncts_cc015c_declaration.xml").read_bytes()

    ncts.to_message(body, REFERENCE)  # our own definitions accept it
    with pytest.raises(InvalidEvent) as raised:
        ncts.to_message(body, REFERENCE, official=xsds)

    assert raised.value.field == "messageSender"
    assert "3" in raised.value.rule


def test_a_message_type_without_an_official_schema_is_checked_by_ours_only(
    tmp_path: Path,
) -> None:
    xsds = _load(tmp_path, _schema(3))
    body = (SAMPLES / "ncts_cc028c_mrn_allocated.xml").read_bytes()

    assert ncts.to_message(body, REFERENCE, official=xsds).drafts


def test_a_schema_with_an_entity_declaration_is_refused(tmp_path: Path) -> None:
    doctype = '<!DOCTYPE xs:schema [<!ENTITY len "35">]>'

    with pytest.raises(ReferenceDataError) as raised:
        _load(tmp_path, _schema(35, extra=doctype))

    assert raised.value.field.endswith("cc015c.xsd")


@pytest.mark.parametrize(
    "location",
    ["../outside/types.xsd", "http://127.0.0.1:9/types.xsd"],
    ids=["outside-the-directory", "network"],
)
def test_a_schema_may_not_include_files_outside_its_directory(
    tmp_path: Path, location: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "types.xsd").write_text(
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema"'
        ' targetNamespace="http://ncts.dgtaxud.ec"/>'
    )
    include = f'<xs:include schemaLocation="{location}"/>'
    schema = _schema(35).replace(
        'elementFormDefault="unqualified">', f'elementFormDefault="unqualified">{include}'
    )

    with pytest.raises(ReferenceDataError):
        _load(tmp_path / "xsd", schema)


def test_a_missing_directory_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ReferenceDataError) as raised:
        OfficialXsds.load(tmp_path / "nowhere", ncts.message_types())

    assert raised.value.field == "INGEST_NCTS_XSD_DIR"
