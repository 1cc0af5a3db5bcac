"""Finding the consignment (and its carrier) a message is about, by one of its references.

`ConsignmentDirectory` is the port; `resolve` turns a `MappedMessage` into events with it.
The PostgreSQL implementation lives in `services.ingest.pg_directory`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import ValidationError

from corridor.aliases import is_placeholder
from corridor.errors import InvalidEvent
from corridor.events import CARRIER_NOT_NAMED, TransitEvent
from services.common.problems import field_path
from services.ingest.adapters.base import MappedMessage, ReferenceKind, Subject

# (consignment_id, carrier_id); the carrier is None while no message has named one.
KnownConsignment = tuple[str, str | None]


class ConsignmentDirectory(Protocol):
    async def find(self, reference_kind: ReferenceKind, value: str) -> KnownConsignment | None:
        """(consignment_id, carrier_id) of the consignment known by this reference."""
        ...

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        """The carrier each known consignment belongs to; unknown ids are absent."""
        ...


class EmptyDirectory:
    """Knows no consignment: every message falls back to its own identifiers."""

    async def find(self, reference_kind: ReferenceKind, value: str) -> KnownConsignment | None:
        return None

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        return {}


def _awaits_this_link(subject: Subject, kind: ReferenceKind, value: str, found: str) -> bool:
    """A placeholder opened under this MRN, found by a message that also names its own
    consignment (the LRN): the message is filed there, and the tracker merges the
    placeholder into it (`corridor.aliases`)."""
    return (
        kind is ReferenceKind.MRN
        and is_placeholder(found, value)
        and subject.consignment_fallback not in (None, value)
    )


async def resolve(message: MappedMessage, directory: ConsignmentDirectory) -> list[TransitEvent]:
    """Complete the drafts with the consignment the directory knows, else the fallback.

    The carrier is the one the message names, or `CARRIER_NOT_NAMED`: a message naming
    none is accepted whatever arrived before it, and the consignment's carrier comes
    from the events that name one (`corridor.ownership`).
    """
    subject = message.subject
    found = None
    for kind, value in subject.lookups:
        found = await directory.find(kind, value)
        if found is not None and not _awaits_this_link(subject, kind, value, found[0]):
            break
        found = None
    consignment_id = found[0] if found else subject.consignment_fallback
    if consignment_id is None:
        raise InvalidEvent(subject.consignment_field, "names no consignment the tracker knows")
    carrier_id = subject.carrier or CARRIER_NOT_NAMED
    try:
        return [draft.complete(consignment_id, carrier_id) for draft in message.drafts]
    except ValidationError as exc:
        first = exc.errors()[0]
        field = {
            "consignment_id": subject.consignment_field,
            "carrier_id": subject.carrier_field,
        }.get(str(first["loc"][0]))
        raise InvalidEvent(field or field_path(first["loc"]), first["msg"]) from None
