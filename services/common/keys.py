"""API keys: generation, hashing, and who a key speaks for.

Keys are 256-bit random tokens, shown once at creation. Only their SHA-256 digest is
stored: with that much entropy a fast hash cannot be brute-forced, so a slow password
KDF would only add latency to every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from pydantic import TypeAdapter, ValidationError

from corridor.events import CARRIER_NOT_NAMED, CarrierId


class Role(StrEnum):
    PUBLISHER = "publisher"  # a BCP, port or customs system sending events
    CARRIER = "carrier"  # sees its own consignments only
    OPERATOR = "operator"  # all consignments and corridor KPIs
    ADMIN = "admin"  # manages keys


KEY_PREFIX = "mck"  # "middle corridor key": makes leaked keys easy to grep for


@dataclass(frozen=True, slots=True)
class NewKey:
    plain: str  # shown once, never stored
    lookup_prefix: str
    digest: str


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, as far as authorization cares."""

    key_id: str
    name: str
    role: Role
    locations: frozenset[str] = field(default_factory=frozenset)  # publishers
    carrier_id: str | None = None  # carriers

    def may_publish_for(self, location: str) -> bool:
        return self.role is Role.PUBLISHER and location in self.locations


_CARRIER_ID: TypeAdapter[str] = TypeAdapter(CarrierId)


class InvalidCarrierKey(ValueError):
    pass


def carrier_key_id(carrier_id: str | None) -> str:
    """The carrier a carrier key may see: a carrier id of the event contract, never the
    marker of events that name no carrier (a key for it would see every consignment whose
    carrier is not yet known)."""
    if not carrier_id:
        raise InvalidCarrierKey("a carrier key needs a carrier id")
    if carrier_id == CARRIER_NOT_NAMED:
        raise InvalidCarrierKey(f"{carrier_id!r} marks events that name no carrier")
    try:
        return _CARRIER_ID.validate_python(carrier_id)
    except ValidationError as exc:
        raise InvalidCarrierKey(
            f"{carrier_id!r} is not a carrier id: {exc.errors()[0]['msg']}"
        ) from None


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


def generate_key(role: Role) -> NewKey:
    token = secrets.token_urlsafe(32)
    plain = f"{KEY_PREFIX}_{role.value[:3]}_{token}"
    return NewKey(plain=plain, lookup_prefix=plain[:12], digest=hash_key(plain))


def digests_match(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


class KeyStore(Protocol):
    """Finds the principal behind a key digest; None for unknown or revoked keys."""

    async def principal_for(self, digest: str) -> Principal | None: ...
