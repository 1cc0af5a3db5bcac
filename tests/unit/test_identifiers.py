"""Identifier validators with real-world shaped examples and known-bad check digits."""

from __future__ import annotations

import pytest

from corridor import (
    InvalidIdentifier,
    References,
    check_mrn,
    validate_container_number,
    validate_customs_office,
    validate_grn,
    validate_mrn,
    validate_permit_id,
    validate_references,
    validate_tir_carnet,
    validate_tir_holder_id,
    validate_unlocode,
    validate_vehicle_plate,
)
from corridor.identifiers import iso6346_check_digit

# From an HMRC CTC test message (CC029C); its check digit happens to hold.
HMRC_MRN = "24GB000246J8NY33L7"
# Same MRN with a wrong check digit, the way most published samples fail it.
HMRC_MRN_BAD_DIGIT = "24GB000246J8NY33L3"


def test_iso6346_check_digit_of_the_standards_example() -> None:
    assert iso6346_check_digit("CSQU305438") == "3"


def test_a_valid_mrn_is_normalised() -> None:
    assert validate_mrn(" 24gb000246j8ny33l7 ") == HMRC_MRN


def test_a_wrong_mrn_check_digit_is_refused_naming_both_digits() -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        validate_mrn(HMRC_MRN_BAD_DIGIT)
    assert raised.value.field == "mrn"
    assert "check digit is 3, expected 7" in raised.value.rule


def test_a_wrong_mrn_check_digit_can_be_accepted_and_is_reported() -> None:
    assert validate_mrn(HMRC_MRN_BAD_DIGIT, accept_wrong_check_digit=True) == HMRC_MRN_BAD_DIGIT
    checked = check_mrn(HMRC_MRN_BAD_DIGIT)
    assert not checked.check_digit_valid
    assert checked.expected_check_digit == "7"


@pytest.mark.parametrize(
    ("mrn", "rule"),
    [
        ("24GB000246J8NY33L", "18 characters"),
        ("38VYQTYFU3T0KUTU93", "pattern"),  # 2024+ layout needs a procedure letter J-M
        ("2412000246J8NY33L7", "pattern"),  # country must be letters
        ("24GB000246J8NY33LX", "pattern"),  # the check character is a digit
    ],
)
def test_mrn_shape_errors_say_which_rule(mrn: str, rule: str) -> None:
    with pytest.raises(InvalidIdentifier) as raised:
        check_mrn(mrn, field="references.mrn")
    assert raised.value.field == "references.mrn"
    assert rule in raised.value.rule


def test_grn_check_digit() -> None:
    body = "25KZ0000000000AB"
    good = body + iso6346_check_digit(body)
    assert validate_grn(good) == good
    assert validate_grn(good + "ABC123") == good + "ABC123"
    wrong = str((int(good[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentifier, match="check digit"):
        validate_grn(body + wrong)


@pytest.mark.parametrize("number", ["CSQU3054383", "csqu 305438 3", "MSKU9070323"])
def test_valid_container_numbers(number: str) -> None:
    assert validate_container_number(number) == number.replace(" ", "").upper()


@pytest.mark.parametrize(
    ("number", "rule"),
    [("CSQU3054384", "check digit"), ("CSQA3054383", "ISO 6346"), ("CSQU305438", "ISO 6346")],
)
def test_bad_container_numbers(number: str, rule: str) -> None:
    with pytest.raises(InvalidIdentifier, match=rule):
        validate_container_number(number)


@pytest.mark.parametrize("carnet", ["XH12345678", "XF123456789", "EX12345678", "24999999", "1"])
def test_tir_carnet_shapes(carnet: str) -> None:
    assert validate_tir_carnet(carnet) == carnet


@pytest.mark.parametrize("carnet", ["AB12345678", "XH1234567", "25000001", "0", "XH1234567890"])
def test_bad_tir_carnets(carnet: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_tir_carnet(carnet)


def test_tir_holder_id() -> None:
    assert validate_tir_holder_id("kaz/047/1234567") == "KAZ/047/1234567"
    with pytest.raises(InvalidIdentifier, match="AAA/BBB/NNN"):
        validate_tir_holder_id("KZ/047/12")


def test_unlocode_and_customs_office() -> None:
    assert validate_unlocode("GE PTI") == "GEPTI"
    assert validate_customs_office("kz000123") == "KZ000123"
    with pytest.raises(InvalidIdentifier):
        validate_unlocode("GEP01")  # 0 and 1 are not used in UN/LOCODEs
    with pytest.raises(InvalidIdentifier):
        validate_customs_office("KZ12345")


def test_permit_ids() -> None:
    assert validate_permit_id("TR-UZ-2025-1-1") == "TR-UZ-2025-1-1"
    assert validate_permit_id("tr-az-2026-1-1042") == "TR-AZ-2026-1-1042"
    # The reference implementation allows country codes of any length.
    assert validate_permit_id("TUR-UZB-2026-3-7") == "TUR-UZB-2026-3-7"
    for bad in ("TR-UZ-25-1-1", "TRUZ202511", "TR-TR-2025-1-1"):
        with pytest.raises(InvalidIdentifier):
            validate_permit_id(bad)


def test_vehicle_plates_are_loose() -> None:
    assert validate_vehicle_plate(" 10-ab-123 ") == "10-AB-123"
    assert validate_vehicle_plate("123 ABC  02") == "123 ABC 02"
    for bad in ("A", "ABCDEFGHIJKLMNOP", "AB_12", "-AB1"):
        with pytest.raises(InvalidIdentifier):
            validate_vehicle_plate(bad)


def test_validate_references_normalises_every_identifier() -> None:
    raw = References(
        tir_carnet="xh12345678",
        mrn="24gb000246j8ny33l7",
        permit_id="tr-az-2026-1-1042",
        vehicle_plates=("01 abc 123",),
        container_numbers=("csqu3054383",),
    )
    assert validate_references(raw) == References(
        tir_carnet="XH12345678",
        mrn=HMRC_MRN,
        permit_id="TR-AZ-2026-1-1042",
        vehicle_plates=("01 ABC 123",),
        container_numbers=("CSQU3054383",),
    )


def test_validate_references_names_the_offending_item() -> None:
    refs = References(container_numbers=("CSQU3054383", "CSQU3054384"))
    with pytest.raises(InvalidIdentifier) as raised:
        validate_references(refs)
    assert raised.value.field == "references.container_numbers[1]"


def test_validate_references_may_accept_a_wrong_mrn_check_digit() -> None:
    refs = References(mrn=HMRC_MRN_BAD_DIGIT)
    with pytest.raises(InvalidIdentifier) as raised:
        validate_references(refs)
    assert raised.value.field == "references.mrn"
    assert validate_references(refs, accept_wrong_mrn_check_digit=True).mrn == HMRC_MRN_BAD_DIGIT


def test_mrns_from_2024_on_use_the_procedure_letter_layout() -> None:
    from corridor.identifiers import iso6346_check_digit

    body = "26KZ000123ABCDEFJ"  # year 26, KZ, 12 characters, procedure letter J
    mrn = body + iso6346_check_digit(body)
    assert validate_mrn(mrn) == mrn
    wrong_letter = "26KZ000123ABCDEFX"  # only J-M may stand in the 17th place
    with pytest.raises(InvalidIdentifier, match="pattern"):
        validate_mrn(wrong_letter + iso6346_check_digit(wrong_letter))
