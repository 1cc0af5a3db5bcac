"""Page cursors: the opaque `next_cursor` the API hands out and takes back.

A cursor says only where the previous page ended: the (last_event_at, consignment_id)
key of a consignment listing, or the last alert id. Every query is scoped again by the
caller's key, so a forged cursor can only move the start of a page within what its
bearer may see anyway. Cursors are therefore validated strictly, not signed: a cursor
whose parts could not have been issued (a NUL, a lone surrogate, an instant PostgreSQL
cannot hold, anything but the exact shape) is refused here, before any query, and no
secret has to be shared between API replicas.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime

from corridor.events import CONSIGNMENT_ID_PATTERN

CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"  # base64url, unpadded
_BASE64URL = re.compile(CURSOR_PATTERN)
_CONSIGNMENT_ID = re.compile(CONSIGNMENT_ID_PATTERN)
# The range of instants the API accepts anywhere (`services.api.deps`), and PostgreSQL holds.
_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
_LATEST = datetime(9999, 12, 31, tzinfo=UTC)
_MAX_ALERT_ID = 2**63 - 1  # bigint


class InvalidCursor(ValueError):
    """A page cursor this API did not issue."""


ConsignmentKey = tuple[datetime, str]


def encode_consignment_cursor(last_event_at: datetime, consignment_id: str) -> str:
    return _encode([last_event_at.isoformat(), consignment_id])


def decode_consignment_cursor(cursor: str) -> ConsignmentKey:
    """The (last_event_at, consignment_id) key a consignment page ended at."""
    document = _decode(cursor)
    if not isinstance(document, list) or len(document) != 2:
        raise InvalidCursor("not a listing position")
    when, key = document
    if not isinstance(when, str) or not isinstance(key, str) or not _CONSIGNMENT_ID.match(key):
        raise InvalidCursor("not a listing position")
    try:
        moment = datetime.fromisoformat(when)
        in_range = moment.tzinfo is not None and _EARLIEST <= moment <= _LATEST
    except ValueError:
        in_range = False
    if not in_range:
        raise InvalidCursor("not a listing position")
    return moment, key


def encode_alert_cursor(last_id: int) -> str:
    return _encode({"after": last_id})


def decode_alert_cursor(cursor: str) -> int:
    """The id of the last alert of the previous page."""
    document = _decode(cursor)
    if not isinstance(document, dict) or set(document) != {"after"}:
        raise InvalidCursor("not an alert position")
    after = document["after"]
    if not isinstance(after, int) or isinstance(after, bool):
        raise InvalidCursor("not an alert position")
    if not 0 <= after <= _MAX_ALERT_ID:
        raise InvalidCursor("not an alert position")
    return after


def _encode(document: object) -> str:
    raw = json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> object:
    if len(cursor) > 512 or not _BASE64URL.match(cursor):
        raise InvalidCursor("not base64url")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        # Strict UTF-8: a lone surrogate escaped as \\ud800 is refused by the patterns above.
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError, RecursionError):
        raise InvalidCursor("not a cursor") from None
