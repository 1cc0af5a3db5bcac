"""Identifiers the simulator hands out: valid by construction, drawn from the seeded RNG.

Check digits use `corridor.identifiers.iso6346_check_digit` (DOMAIN.md section 3), so
what passes here passes the ingest validators.
"""

from __future__ import annotations

import hashlib
import random
import re
import string

from corridor.identifiers import iso6346_check_digit

_LETTERS = string.ascii_uppercase
_ALNUM = string.ascii_uppercase + string.digits
CONTAINER_OWNERS = ("CSQU", "TGHU", "MSKU", "CICU", "KTZU", "TCNU", "FCIU", "BMOU")
CARNET_PREFIXES = ("XH", "XF", "XG")
_CARRIER_COUNTRY = re.compile(r"^carrier-([a-z]{2})-", re.IGNORECASE)


def _draw(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choices(alphabet, k=n))


def mrn(rng: random.Random, year: int, country: str) -> str:
    """An NCTS MRN whose layout follows the phase 6 XSD for `year`.

    Up to 2023: YY CC + 13 characters + check digit. From 2024 the XSD's second
    alternative applies: YY CC + 12 characters + procedure letter (J = transit
    declaration only) + check digit. Both check digits use the ISO 6346 method.
    """
    yy = year % 100
    if yy <= 23:
        body = f"{yy:02d}{country}{_draw(rng, _ALNUM, 13)}"
    else:
        body = f"{yy:02d}{country}{_draw(rng, _ALNUM, 12)}J"
    return body + iso6346_check_digit(body)


def container_number(rng: random.Random) -> str:
    body = rng.choice(CONTAINER_OWNERS) + _draw(rng, string.digits, 6)
    return body + iso6346_check_digit(body)


def tir_carnet(rng: random.Random) -> str:
    return rng.choice(CARNET_PREFIXES) + _draw(rng, string.digits, 8)


def vehicle_plates(rng: random.Random, country: str | None) -> tuple[str, str]:
    """Tractor and trailer plates, roughly in the carrier country's format."""
    digits, letters = string.digits, _LETTERS

    def d(n: int) -> str:
        return _draw(rng, digits, n)

    def a(n: int) -> str:
        return _draw(rng, letters, n)

    if country == "KZ":
        return f"{d(3)}{a(3)}02", f"{d(2)}{a(2)}02"
    if country == "TR":
        return f"34{a(3)}{d(3)}", f"34{a(2)}{d(4)}"
    if country == "GE":
        return f"{a(2)}{d(3)}{a(2)}", f"{a(2)}{d(4)}"
    if country == "AZ":
        return f"10{a(2)}{d(3)}", f"10{a(2)}{d(4)}"
    if country == "KG":
        return f"01KG{d(3)}{a(3)}", f"01KG{d(4)}"
    if country == "CN":
        return f"XJA{d(5)}", f"XJA{d(4)}"
    return f"{a(2)}{d(4)}{a(2)}", f"{a(2)}{d(4)}"


def seal_numbers(rng: random.Random, country: str, count: int) -> tuple[str, ...]:
    return tuple(f"{country}{_draw(rng, string.digits, 7)}" for _ in range(count))


def permit_id(issuer: str, issued_for: str, year: int, serial: int) -> str:
    """e-Permit id `issuer-issuedFor-year-type-serial`; type 1 is a bilateral permit."""
    return f"{issuer}-{issued_for}-{year}-1-{serial}"


def carrier_country(carrier_id: str) -> str | None:
    match = _CARRIER_COUNTRY.match(carrier_id)
    return match.group(1).upper() if match else None


def customs_office(location: str) -> str:
    """A stable office reference per location: country + 4 letters of the name + 01."""
    country, _, rest = location.partition("-")
    letters = re.sub(r"[^A-Z]", "", rest)[:4].ljust(4, "X")
    return f"{country}{letters}01"


class EventIds:
    """Deterministic UUIDv4s: a keyed hash of (run seed, consignment, event index)."""

    def __init__(self, seed: int) -> None:
        self._key = hashlib.blake2b(f"corridor-simulator:{seed}".encode(), digest_size=32).digest()

    def __call__(self, consignment_id: str, index: int) -> str:
        """The id in canonical text form (what `str(uuid.UUID(...))` gives)."""
        digest = bytearray(
            hashlib.blake2b(
                f"{consignment_id}/{index}".encode(), key=self._key, digest_size=16
            ).digest()
        )
        digest[6] = digest[6] & 0x0F | 0x40  # version 4
        digest[8] = digest[8] & 0x3F | 0x80  # RFC 4122 variant
        h = digest.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
