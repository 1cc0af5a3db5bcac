"""Opaque page cursors and `next` links shared by the listing routes."""

from __future__ import annotations

import base64
import json
from urllib.parse import urlencode

from fastapi import Request

from services.api.deps import invalid
from storage.reads import InvalidCursor, decode_cursor


def next_link(request: Request, base: str, cursor: str | None) -> str | None:
    """This request's URL with `cursor` replaced: the next page."""
    if cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{base}{request.url.path}?{urlencode(params)}"


def check_consignment_cursor(cursor: str | None) -> str | None:
    if cursor is not None:
        try:
            decode_cursor(cursor)
        except InvalidCursor:
            raise invalid(
                "cursor", "not a cursor this API issued; pass `next_cursor` back"
            ) from None
    return cursor


def encode_alert_cursor(last_id: int) -> str:
    raw = json.dumps({"after": last_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_alert_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        after = document["after"]
    except (ValueError, TypeError, KeyError):
        after = None
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise invalid("cursor", "not a cursor this API issued; pass `next_cursor` back")
    return after
