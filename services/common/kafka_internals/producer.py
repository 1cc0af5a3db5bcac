"""faust's and aiokafka's producers: idempotent sends, and dropping what is buffered."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaProducer
from faust.transport.drivers import aiokafka as faust_aiokafka


class IdempotentProducer(faust_aiokafka.Producer):
    """faust's aiokafka producer, idempotent: a retried send (a leader that failed over
    after writing) is not written twice. faust turns idempotence on only with its
    transactions (exactly-once), which this app does not use."""

    def _settings_extra(self) -> Mapping[str, Any]:
        return {**super()._settings_extra(), "acks": "all", "enable_idempotence": True}


def drop_buffered_records(producer: AIOKafkaProducer, cause: BaseException) -> None:
    """Fail every record still buffered in `producer`, so none is delivered later."""
    producer._message_accumulator.fail_all(cause)
