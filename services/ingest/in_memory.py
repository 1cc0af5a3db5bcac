"""In-memory implementations of the ingest ports, for tests and local experiments.

Like httpx's MockTransport: small, real implementations passed in instead of patching.
"""

from __future__ import annotations

from collections.abc import Sequence

from corridor.events import TransitEvent
from services.common.keys import Principal, Role, generate_key
from services.ingest.adapters.base import ReferenceKind
from services.ingest.directory import KnownConsignment
from services.ingest.publisher import BrokerUnavailable


class RecordingPublisher:
    """Keeps every published event, in order; `fail_next` makes the next publishes fail."""

    def __init__(self) -> None:
        self.events: list[TransitEvent] = []
        self.batches: list[list[TransitEvent]] = []
        self.ready = True
        self.fail_next = 0

    async def publish(self, events: Sequence[TransitEvent]) -> None:
        if self.fail_next > 0:
            self.fail_next -= 1
            raise BrokerUnavailable("simulated broker outage")
        self.batches.append(list(events))
        self.events.extend(events)

    async def is_ready(self) -> bool:
        return self.ready


class FailingPublisher:
    """A broker that is down: every publish fails, readiness is false."""

    def __init__(self) -> None:
        self.attempts = 0

    async def publish(self, events: Sequence[TransitEvent]) -> None:
        self.attempts += 1
        raise BrokerUnavailable("broker unreachable")

    async def is_ready(self) -> bool:
        return False


class InMemoryKeyStore:
    def __init__(self) -> None:
        self._principals: dict[str, Principal] = {}

    def add(
        self,
        name: str,
        role: Role = Role.PUBLISHER,
        locations: Sequence[str] = (),
        carrier_id: str | None = None,
    ) -> str:
        """Register a new key; return the plain key."""
        key = generate_key(role)
        self._principals[key.digest] = Principal(
            key_id=f"key-{len(self._principals) + 1}",
            name=name,
            role=role,
            locations=frozenset(locations),
            carrier_id=carrier_id,
        )
        return key.plain

    async def principal_for(self, digest: str) -> Principal | None:
        return self._principals.get(digest)


class InMemoryDirectory:
    def __init__(self) -> None:
        self._entries: dict[tuple[ReferenceKind, str], tuple[str, str]] = {}
        self._carriers: dict[str, str] = {}

    def add(self, kind: ReferenceKind, value: str, consignment_id: str, carrier_id: str) -> None:
        self._entries[(kind, value)] = (consignment_id, carrier_id)
        self.add_consignment(consignment_id, carrier_id)

    def add_consignment(self, consignment_id: str, carrier_id: str) -> None:
        self._carriers[consignment_id] = carrier_id

    async def carriers_of(self, consignment_ids: Sequence[str]) -> dict[str, str | None]:
        return {i: self._carriers[i] for i in consignment_ids if i in self._carriers}

    def learn(self, event: TransitEvent) -> None:
        """Know the event's consignment as the tracker would once it stored the event."""
        known = (event.consignment_id, event.carrier_id)
        # A consignment filed under an LRN is found by it (as in the PostgreSQL directory).
        self._entries.setdefault((ReferenceKind.LRN, event.consignment_id), known)
        references = event.references
        for kind, value in (
            (ReferenceKind.MRN, references.mrn),
            (ReferenceKind.TIR_CARNET, references.tir_carnet),
            (ReferenceKind.PERMIT_ID, references.permit_id),
        ):
            if value is not None:
                self._entries.setdefault((kind, value), known)

    async def find(self, reference_kind: ReferenceKind, value: str) -> KnownConsignment | None:
        return self._entries.get((reference_kind, value))
