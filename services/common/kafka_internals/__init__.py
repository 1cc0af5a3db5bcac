"""Every use of faust-streaming's, mode's and aiokafka's private API in the project.

The rest of the code sees the small public functions and classes re-exported here, and
never a private name of those libraries (`tests/unit/test_kafka_internals_seam.py`
enforces it for this whole package). Why each piece exists, and what it cost or saved
when measured, is in docs/tracker.md (*Record delivery*, *Batches*, *Logging and
monitoring*) and docs/ingest.md. The package loads faust: ingest, which needs only
`drop_buffered_records`, pays its import once.

On a faust-streaming, mode or aiokafka upgrade, re-check against the new source:

`delivery.py`
- `DirectWaitFirst.wait_first`: faust's `Consumer._drain_messages` still delivers
  through `self.wait_first(callback(message), self.suspend_flow.wait())`, and mode's
  `Service.wait_first` still returns `WaitResults` and checks `_stopped` / `_crashed`.

`consumer.py`
- `DirectDeliveryConsumer.perform_seek`: faust's recovery (`on_recovery_completed` in
  `faust/tables/recovery.py`) still resumes partitions, seeks, then resumes flow control,
  which empties the stream queues.
- `SingleAssignmentFetchThread`: faust's `AIOKafkaConsumerThread._fetch_records` still
  passes its live set of active partitions to aiokafka's `Fetcher.fetched_records`, which
  still reads an empty set as every partition; aiokafka still keeps positions in the
  `Assignment` it replaces at each rebalance (`_subscription.subscription.assignment`).
- `SingleAssignmentFetchThread.verify_event_path`: faust's commit livelock detector
  still reads each assigned partition's `position` from aiokafka's
  `_fetcher._subscriptions.subscription.assignment`, and aiokafka still asserts on an
  unknown one (`TopicPartitionState.position`; `has_valid_position` asks without asserting).
- `DirectDeliveryConsumer.seek_to_committed`: aiokafka still skips offsets of 0, and
  `Consumer._thread.seek_to_beginning` still exists; faust's `perform_seek` (called by
  recovery after every assignment) still takes its result as the read and committed
  offsets, and the consumer still has its `transport`.
- `read_assignment_again`: faust's aiokafka consumer thread still has `cast_thread` and
  `_ensure_consumer`, and aiokafka's group coordinator `request_rejoin`.
- `use_direct_delivery`, `WireBytes`: `app.transport` may still be replaced before first
  use, its class still builds consumers from `Consumer`, and `Schema.loads_key` /
  `loads_value` are still what a topic's channel calls per record.

`stream.py`
- `ChannelTaker`: faust's stream iterator (`Stream.__aiter__` / `_py_aiter`) still drops
  records whose `generation_id` differs from `app.consumer_generation_id` or that arrive
  while flow is stopped, and tracks acking-topic messages with `Consumer.track_message`;
  `app.topics._acking_topics` is still a live set; the channel's iterator still has a
  `queue` with `get_nowait` (which resumes paused partitions as it ebbs).
- `close_with_stream`: `Stream._active_agens`. `ack_events`: the app's sensors are only
  its monitor (else they would miss `on_message_out`).
- `on_behalf_of`: `faust.streams._current_event` is still the context variable a
  table reads to choose the partition of a write.

`worker.py`
- `QuietWorker.on_setup_root_logger` (the spinner) and `QuietMonitor.on_message_in` (the
  consumer's per-record call) still have these signatures.

`producer.py`
- `drop_buffered_records`: aiokafka's `producer._message_accumulator.fail_all`.
- `IdempotentProducer`: faust's aiokafka `Producer._new_producer` still merges
  `_settings_extra()` into aiokafka's producer arguments.
"""

from services.common.kafka_internals.consumer import (
    DirectDeliveryConsumer,
    ResumePoints,
    SingleAssignmentFetchThread,
    WireBytes,
    fetch_within_one_assignment,
    read_assignment_again,
    use_direct_delivery,
)
from services.common.kafka_internals.delivery import DirectWaitFirst
from services.common.kafka_internals.producer import IdempotentProducer, drop_buffered_records
from services.common.kafka_internals.stream import (
    ChannelTaker,
    ack_events,
    close_with_stream,
    on_behalf_of,
    record_age,
    start_taking,
)
from services.common.kafka_internals.worker import QuietMonitor, QuietWorker

__all__ = [
    "ChannelTaker",
    "DirectDeliveryConsumer",
    "DirectWaitFirst",
    "IdempotentProducer",
    "QuietMonitor",
    "QuietWorker",
    "ResumePoints",
    "SingleAssignmentFetchThread",
    "WireBytes",
    "ack_events",
    "close_with_stream",
    "drop_buffered_records",
    "fetch_within_one_assignment",
    "on_behalf_of",
    "read_assignment_again",
    "record_age",
    "start_taking",
    "use_direct_delivery",
]
