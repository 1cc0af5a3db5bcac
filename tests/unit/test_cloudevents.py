"""CloudEvents Kafka binding, binary mode: headers out, headers checked on the way in."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor import EventType, InvalidEvent, References, from_kafka_record, to_kafka_record
from corridor.cloudevents import KafkaRecord
from tests.unit.factories import event

ARRIVED = event(
    EventType.GATE_ARRIVED,
    "KZ-NUR-ZHOLY",
    1.5,
    references=References(mrn="24GB000246J8NY33L7", container_numbers=("CSQU3054383",)),
    seals=("KZ123",),
)


def headers(record: KafkaRecord) -> dict[str, bytes]:
    return dict(record.headers)


def replaced(record: KafkaRecord, name: str, value: bytes) -> list[tuple[str, bytes]]:
    return [(n, value if n == name else v) for n, v in record.headers]


def test_binary_mode_headers() -> None:
    record = to_kafka_record(ARRIVED)
    assert headers(record) == {
        "ce_specversion": b"1.0",
        "ce_id": str(ARRIVED.event_id).encode(),
        "ce_type": b"org.middlecorridor.transit.gate.arrived.v1",
        "ce_source": b"/corridor/gate/KZ-NUR-ZHOLY",
        "ce_time": b"2026-03-01T09:30:00Z",
        "ce_subject": b"CONS-0001",
        "ce_dataschema": b"urn:middlecorridor:schema:transit-event:1.0",
        "content-type": b"application/json",
        "ce_datasha256": ARRIVED.fingerprint().encode(),
    }
    assert record.key == b"CONS-0001"
    assert record.value == ARRIVED.canonical_json().encode()


def test_round_trip() -> None:
    record = to_kafka_record(ARRIVED)
    assert from_kafka_record(record.key, record.value, record.headers) == ARRIVED


@settings(max_examples=40)
@given(st.sampled_from(EventType), st.floats(min_value=-1000, max_value=1000, allow_nan=False))
def test_round_trip_of_every_event_type(event_type: EventType, hours: float) -> None:
    original = event(event_type, "AZ-ALAT", hours)
    record = to_kafka_record(original)
    assert from_kafka_record(record.key, record.value, record.headers) == original


def test_an_equal_instant_in_another_spelling_is_accepted() -> None:
    record = to_kafka_record(ARRIVED)
    spelled = replaced(record, "ce_time", b"2026-03-01T13:30:00+04:00")
    assert from_kafka_record(record.key, record.value, spelled) == ARRIVED


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("ce_id", b"00000000-0000-0000-0000-000000000000"),
        ("ce_type", b"org.middlecorridor.transit.gate.departed.v1"),
        ("ce_source", b"/corridor/gate/KZ-AKTAU"),
        ("ce_time", b"2026-03-01T09:31:00Z"),
        ("ce_time", b"yesterday"),
        ("ce_subject", b"CONS-9999"),
        ("ce_specversion", b"0.3"),
        ("ce_dataschema", b"urn:middlecorridor:schema:transit-event:2.0"),
        ("content-type", b"application/xml"),
    ],
)
def test_headers_that_disagree_with_the_body_are_refused(header: str, value: bytes) -> None:
    record = to_kafka_record(ARRIVED)
    with pytest.raises(InvalidEvent) as raised:
        from_kafka_record(record.key, record.value, replaced(record, header, value))
    assert raised.value.field == header


def test_missing_header_wrong_key_and_bad_body_are_refused() -> None:
    record = to_kafka_record(ARRIVED)
    without_subject = [(n, v) for n, v in record.headers if n != "ce_subject"]
    with pytest.raises(InvalidEvent, match="ce_subject"):
        from_kafka_record(record.key, record.value, without_subject)
    with pytest.raises(InvalidEvent, match="key"):
        from_kafka_record(b"CONS-9999", record.value, record.headers)
    with pytest.raises(InvalidEvent):
        from_kafka_record(record.key, b'{"event_type": "gate.arrived"}', record.headers)
    with pytest.raises(InvalidEvent, match="repeated"):
        from_kafka_record(record.key, record.value, [*record.headers, ("ce_id", b"other")])


def respelled(record: KafkaRecord) -> bytes:
    """The same event, spelled as another tool might: indented, keys in another order."""
    return json.dumps(json.loads(record.value), indent=2, sort_keys=True).encode()


def test_a_body_with_its_declared_digest_is_the_events_canonical_json() -> None:
    record = to_kafka_record(ARRIVED)
    decoded = from_kafka_record(record.key, record.value, record.headers)
    assert decoded.canonical_json() == record.value.decode()
    assert decoded.fingerprint() == hashlib.sha256(record.value).hexdigest()


@pytest.mark.parametrize("digest", ["kept", "dropped"])
def test_a_body_respelled_on_the_way_keeps_the_fingerprint_of_its_content(digest: str) -> None:
    # A tool re-serialised the body and kept (or dropped) the digest header: the digest no
    # longer matches, so the event is serialised afresh. A faithful re-send spelled this
    # way is still recognised as one, not taken for a conflicting version.
    record = to_kafka_record(ARRIVED)
    headers = [
        (name, value)
        for name, value in record.headers
        if digest == "kept" or name != "ce_datasha256"
    ]
    decoded = from_kafka_record(record.key, respelled(record), headers)
    assert decoded == ARRIVED
    assert decoded.canonical_json() == ARRIVED.canonical_json()
    assert decoded.fingerprint() == ARRIVED.fingerprint()


def test_a_declared_digest_is_taken_at_its_word_once_it_matches_the_body() -> None:
    # The digest vouches for the body as written: a writer that declares the digest of
    # a body it did not write canonically is believed (ingest and the simulator write the
    # events topic, both through `to_kafka_record`).
    record = to_kafka_record(ARRIVED)
    body = respelled(record)
    digest = hashlib.sha256(body).hexdigest().encode()
    headers = [(n, digest if n == "ce_datasha256" else v) for n, v in record.headers]
    decoded = from_kafka_record(record.key, body, headers)
    assert decoded == ARRIVED
    assert decoded.canonical_json() == body.decode()


@pytest.mark.parametrize("name", [n for n, _ in to_kafka_record(ARRIVED).headers])
def test_every_header_the_writer_sets_is_checked_by_the_reader(name: str) -> None:
    # The reader checks a hand-kept list beside the writer's (`_checked_attributes`, for
    # speed): a header added to one must not go unchecked by the other.
    record = to_kafka_record(ARRIVED)
    tampered = replaced(record, name, b"tampered")
    if name == "ce_datasha256":  # not a claim about the event: a mismatch only costs time
        decoded = from_kafka_record(record.key, record.value, tampered)
        assert decoded.fingerprint() == ARRIVED.fingerprint()
        return
    with pytest.raises(InvalidEvent) as raised:
        from_kafka_record(record.key, record.value, tampered)
    assert raised.value.field == name
