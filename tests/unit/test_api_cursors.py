"""Page cursors are validated before any query: only what the API could have issued passes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.api.cursors import (
    InvalidCursor,
    decode_alert_cursor,
    decode_consignment_cursor,
    encode_alert_cursor,
    encode_consignment_cursor,
)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def raw(document: object) -> str:
    """A cursor built by hand, the way a tamperer would."""
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode().rstrip("=")


def test_cursors_round_trip() -> None:
    assert decode_consignment_cursor(encode_consignment_cursor(T0, "MC-1/2")) == (T0, "MC-1/2")
    plus5 = T0.astimezone(timezone(timedelta(hours=5)))
    assert decode_consignment_cursor(encode_consignment_cursor(plus5, "C")) == (plus5, "C")
    assert decode_alert_cursor(encode_alert_cursor(42)) == 42


TAMPERED = {
    "nul-in-key": raw(["2026-03-01T08:00:00+00:00", "SEC\u0000x"]),
    "lone-surrogate": raw(["2026-03-01T08:00:00+00:00", "SEC\ud800"]),
    "surrogate-bytes": base64.urlsafe_b64encode(b'["2026-03-01T08:00:00+00:00","\xed\xa0\x80"]')
    .decode()
    .rstrip("="),
    "naive-time": raw(["2026-03-01T08:00:00", "C"]),
    "year-1-offset": raw(["0001-01-01T00:00:00+01:00", "C"]),
    "year-9999-offset": raw(["9999-12-31T23:30:00-01:00", "C"]),
    "three-parts": raw(["2026-03-01T08:00:00+00:00", "C", "x"]),
    "number-key": raw(["2026-03-01T08:00:00+00:00", 5]),
    "object": raw({"after": 1}),
    "garbage": "not-a-cursor",
    "padding-and-symbols": "%%%",
    "nul": "\x00",
    "lone-surrogate-text": "\ud800",
    "deep": raw([[[[[]]]]]),
}


@pytest.mark.parametrize("cursor", TAMPERED.values(), ids=TAMPERED.keys())
def test_a_tampered_consignment_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_consignment_cursor(cursor)


@pytest.mark.parametrize(
    "cursor",
    [
        raw({"after": -1}),
        raw({"after": 2**63}),
        raw({"after": True}),
        raw({"after": 1, "x": 2}),
        raw([1]),
        raw(7),
        "\x00",
    ],
)
def test_a_tampered_alert_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_alert_cursor(cursor)


@given(st.text(max_size=600))
def test_any_text_is_a_position_or_invalid_never_another_error(cursor: str) -> None:
    try:
        moment, key = decode_consignment_cursor(cursor)
    except InvalidCursor:
        return
    assert moment.tzinfo is not None
    assert "\x00" not in key
