"""Dead letters: records the tracker could not store, set aside where operators see them.

Each goes to the dead-letter topic (the record as read, plus a `dead_letter_error`
header), to the `dead_letters` table (from which `python -m services.tracker
dead-letters replay ID` re-publishes it), and raises a `dead_letter` alert.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from corridor.alerts import AlertKind
from services.tracker.derived_topics import alert_message, encode
from storage.dead_letters import DeadLetter
from storage.rows import AlertRow

log = logging.getLogger(__name__)

ERROR_HEADER = "dead_letter_error"


class DeadLetterStore(Protocol):
    async def add_dead_letters(
        self, letters: Sequence[DeadLetter], alerts: Sequence[AlertRow]
    ) -> None: ...


def dead_letter_alert(letter: DeadLetter, raised_at: datetime) -> AlertRow:
    where = f"{letter.topic}[{letter.partition}]@{letter.offset}"
    return AlertRow(
        kind=AlertKind.DEAD_LETTER.value,
        occurred_at=raised_at,
        raised_at=raised_at,
        consignment_id=letter.consignment_id,
        detail=f"record {where} set aside: {letter.error}"[:1000],
        dedup_key=f"dead_letter:{where}",
    )


class DeadLetterSink:
    """`tracking_loop.DeadLetters` through the store and the Faust app's producer."""

    def __init__(
        self,
        store: DeadLetterStore,
        dead_letter_topic: Any,  # faust topics
        alerts_topic: Any,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._dead_letter_topic = dead_letter_topic
        self._alerts_topic = alerts_topic
        self._clock = clock

    async def isolate(self, letters: Sequence[DeadLetter]) -> None:
        now = self._clock()
        alerts = [dead_letter_alert(letter, now) for letter in letters]
        await self._store.add_dead_letters(letters, alerts)
        await asyncio.gather(
            *(
                self._dead_letter_topic.send(
                    key=letter.key,
                    value=letter.value,
                    headers=[*letter.headers, (ERROR_HEADER, letter.error.encode())],
                )
                for letter in letters
            ),
            *(
                self._alerts_topic.send(
                    key=(alert.consignment_id or "").encode(), value=encode(alert_message(alert))
                )
                for alert in alerts
            ),
        )
        for alert in alerts:
            log.error("dead letter: %s", alert.detail)
