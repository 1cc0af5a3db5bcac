"""Ingest's shared receipts: asked only for what this process did not accept itself,
and never in the way of a 2xx when the database does not answer."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import psycopg

from services.ingest.receipts import SharedAcceptedEvents
from storage.receipts import ReceiptRepository


class FakeReceipts:
    def __init__(self, known: dict[str, set[str]] | None = None, broken: bool = False) -> None:
        self.known = known or {}
        self.broken = broken
        self.asked: list[list[str]] = []
        self.written: list[tuple[str, str]] = []

    async def fingerprints(self, event_ids: Sequence[str]) -> dict[str, set[str]]:
        self.asked.append(list(event_ids))
        if self.broken:
            raise psycopg.OperationalError("server closed the connection")
        return {i: set(self.known[i]) for i in event_ids if i in self.known}

    async def remember(self, accepted: Sequence[tuple[str, str]]) -> None:
        if self.broken:
            raise psycopg.OperationalError("server closed the connection")
        self.written.extend(accepted)

    async def prune(self, older_than: timedelta) -> int:
        return 0


def shared(receipts: FakeReceipts) -> SharedAcceptedEvents:
    return SharedAcceptedEvents(cast(ReceiptRepository, cast(Any, receipts)), timedelta(days=7))


async def test_another_processs_receipt_is_known_and_this_processs_own_not_asked_for() -> None:
    receipts = FakeReceipts({"e-2": {"f-2"}})
    accepted = shared(receipts)
    await accepted.remember([("e-1", "f-1")])

    assert await accepted.fingerprints(["e-1", "e-2", "e-3"]) == {"e-1": {"f-1"}, "e-2": {"f-2"}}
    assert receipts.asked == [["e-2", "e-3"]]
    assert receipts.written == [("e-1", "f-1")]


async def test_without_the_database_the_process_carries_on_with_its_own_receipts() -> None:
    accepted = shared(FakeReceipts(broken=True))
    await accepted.remember([("e-1", "f-1")])  # no exception: the events are in Kafka

    assert await accepted.fingerprints(["e-1", "e-2"]) == {"e-1": {"f-1"}}
