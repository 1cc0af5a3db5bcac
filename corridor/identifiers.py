"""Validators for the identifiers a consignment is known by (DOMAIN.md section 3).

Each validator returns the normalised value (upper case, stray spaces removed) or raises
`InvalidIdentifier(field, rule)` naming the field and the rule it breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from corridor.errors import InvalidIdentifier
from corridor.events import References

# The phase 6 XSD's two layouts: up to 2024, and from 2024 on with a procedure letter J-M
# in the 17th place.
MRN_PATTERN = re.compile(
    r"^(?:([0-1][0-9]|2[0-4])[A-Z]{2}[A-Z0-9]{13}[0-9]"
    r"|(2[4-9]|[3-9][0-9])[A-Z]{2}[A-Z0-9]{12}[J-M][0-9])$"
)
# Year, country, 12 characters, check digit over the first 16, optional 6-character suffix.
GRN_PATTERN = re.compile(r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{12}[0-9](?:[A-Z0-9]{6})?$")
CONTAINER_PATTERN = re.compile(r"^[A-Z]{3}[UJZ][0-9]{6}[0-9]$")
TIR_CARNET_PATTERN = re.compile(r"^(?:X[A-Z]|[A-Z]X)[0-9]{8,9}$")
TIR_LEGACY_PATTERN = re.compile(r"^[0-9]{1,8}$")
TIR_LEGACY_MAX = 25_000_000
TIR_HOLDER_PATTERN = re.compile(r"^[A-Z]{3}/[0-9]{3}/[0-9]{1,10}$")
UNLOCODE_PATTERN = re.compile(r"^[A-Z]{2}[A-Z2-9]{3}$")
CUSTOMS_OFFICE_PATTERN = re.compile(r"^[A-Z]{2}[A-Z0-9]{6}$")
# The reference implementation allows country codes of any length (`[A-Z]+`); bounded here.
PERMIT_ID_PATTERN = re.compile(r"^([A-Z]{1,10})-([A-Z]{1,10})-[0-9]{4}-[0-9]{1,3}-[0-9]{1,10}$")
VEHICLE_PLATE_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9 -]{0,13}[A-Z0-9]$")


class _Validator(Protocol):
    def __call__(self, value: str, *, field: str) -> str: ...


def _letter_values() -> dict[str, int]:
    # ISO 6346: letters count from A=10 upwards, skipping multiples of 11.
    values = [v for v in range(10, 39 + 3) if v % 11 != 0][:26]
    return dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ", values, strict=True))


_LETTER_VALUES = _letter_values()


def iso6346_check_digit(characters: str) -> str:
    """Check digit of the ISO 6346 method, shared by MRN, GRN and container numbers."""
    total = sum(
        (int(char) if char.isdigit() else _LETTER_VALUES[char]) << position
        for position, char in enumerate(characters)
    )
    return str(total % 11 % 10)


def _compact(value: str) -> str:
    return re.sub(r"[\s-]+", "", value).upper()


def _require(pattern: re.Pattern[str], value: str, field: str, rule: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidIdentifier(field, f"{value!r} {rule}")
    return value


@dataclass(frozen=True, slots=True)
class MrnCheck:
    """An MRN of valid shape, and whether its check digit agrees."""

    value: str
    check_digit: str
    expected_check_digit: str

    @property
    def check_digit_valid(self) -> bool:
        return self.check_digit == self.expected_check_digit


def check_mrn(value: str, *, field: str = "mrn") -> MrnCheck:
    """Validate the MRN's shape and report, without judging, its check digit."""
    mrn = _compact(value)
    if len(mrn) != 18:
        raise InvalidIdentifier(field, f"{mrn!r} must be 18 characters, has {len(mrn)}")
    _require(MRN_PATTERN, mrn, field, "does not match the NCTS phase 6 MRN pattern")
    return MrnCheck(mrn, mrn[-1], iso6346_check_digit(mrn[:-1]))


def validate_mrn(value: str, *, field: str = "mrn", accept_wrong_check_digit: bool = False) -> str:
    """A valid MRN; `accept_wrong_check_digit` admits the published samples that fail it."""
    checked = check_mrn(value, field=field)
    if not checked.check_digit_valid and not accept_wrong_check_digit:
        raise InvalidIdentifier(
            field,
            f"{checked.value!r} check digit is {checked.check_digit}, "
            f"expected {checked.expected_check_digit}",
        )
    return checked.value


def _require_check_digit(value: str, data: str, digit: str, field: str) -> str:
    expected = iso6346_check_digit(data)
    if digit != expected:
        raise InvalidIdentifier(field, f"{value!r} check digit is {digit}, expected {expected}")
    return value


def validate_grn(value: str, *, field: str = "grn") -> str:
    """Guarantee reference number: check digit at position 17 over the first 16."""
    grn = _require(GRN_PATTERN, _compact(value), field, "is not a guarantee reference number")
    return _require_check_digit(grn, grn[:16], grn[16], field)


def validate_container_number(value: str, *, field: str = "container_number") -> str:
    """ISO 6346 container number: owner code, category U/J/Z, serial and check digit."""
    number = _require(CONTAINER_PATTERN, _compact(value), field, "is not an ISO 6346 number")
    return _require_check_digit(number, number[:10], number[10], field)


def validate_tir_carnet(value: str, *, field: str = "tir_carnet") -> str:
    """Shape only: the IRU's check algorithm is not public."""
    carnet = _compact(value)
    if TIR_CARNET_PATTERN.fullmatch(carnet):
        return carnet
    if TIR_LEGACY_PATTERN.fullmatch(carnet) and 0 < int(carnet) <= TIR_LEGACY_MAX:
        return carnet
    raise InvalidIdentifier(
        field, f"{carnet!r} is neither an X-prefixed carnet number nor a legacy number"
    )


def validate_tir_holder_id(value: str, *, field: str = "tir_holder_id") -> str:
    holder = re.sub(r"\s+", "", value).upper()
    return _require(TIR_HOLDER_PATTERN, holder, field, "is not of the form AAA/BBB/NNN")


def validate_unlocode(value: str, *, field: str = "unlocode") -> str:
    code = _compact(value)
    return _require(UNLOCODE_PATTERN, code, field, "is not a UN/LOCODE (country + 3)")


def validate_customs_office(value: str, *, field: str = "customs_office") -> str:
    office = _compact(value)
    return _require(CUSTOMS_OFFICE_PATTERN, office, field, "is not a customs office reference")


def validate_permit_id(value: str, *, field: str = "permit_id") -> str:
    """e-Permit id `issuer-issuedFor-year-type-serial`, e.g. TR-UZ-2025-1-1."""
    permit = re.sub(r"\s+", "", value).upper()
    match = PERMIT_ID_PATTERN.fullmatch(permit)
    if match is None:
        raise InvalidIdentifier(field, f"{permit!r} is not issuer-issuedFor-year-type-serial")
    if match.group(1) == match.group(2):
        raise InvalidIdentifier(field, f"{permit!r} is issued by a country to itself")
    return permit


def validate_vehicle_plate(value: str, *, field: str = "vehicle_plate") -> str:
    """Loose on purpose: plate formats differ in every corridor country."""
    plate = re.sub(r"\s+", " ", value.strip()).upper()
    return _require(VEHICLE_PLATE_PATTERN, plate, field, "is not 2-15 letters, digits, - or space")


def validate_references(
    references: References, *, accept_wrong_mrn_check_digit: bool = False
) -> References:
    """Every identifier of a `References`, normalised; errors name `references.<field>`."""

    def each(values: tuple[str, ...], name: str, check: _Validator) -> tuple[str, ...]:
        return tuple(check(v, field=f"references.{name}[{i}]") for i, v in enumerate(values))

    def one(value: str | None, name: str, check: _Validator) -> str | None:
        return None if value is None else check(value, field=f"references.{name}")

    def mrn(value: str, *, field: str) -> str:
        return validate_mrn(
            value, field=field, accept_wrong_check_digit=accept_wrong_mrn_check_digit
        )

    return References(
        tir_carnet=one(references.tir_carnet, "tir_carnet", validate_tir_carnet),
        mrn=one(references.mrn, "mrn", mrn),
        permit_id=one(references.permit_id, "permit_id", validate_permit_id),
        vehicle_plates=each(references.vehicle_plates, "vehicle_plates", validate_vehicle_plate),
        container_numbers=each(
            references.container_numbers, "container_numbers", validate_container_number
        ),
    )
