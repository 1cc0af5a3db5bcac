"""Page cursors of the listing routes, as query parameters and `next` links."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import Request

from services.api import cursors
from services.api.deps import invalid
from storage.views import ConsignmentKey, ConsignmentView

CURSOR_PATTERN = cursors.CURSOR_PATTERN
_NOT_OURS = "not a cursor this API issued; pass `next_cursor` back"


def next_link(request: Request, base: str, cursor: str | None) -> str | None:
    """This request's URL with `cursor` replaced: the next page."""
    if cursor is None:
        return None
    params = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
    params.append(("cursor", cursor))
    return f"{base}{request.url.path}?{urlencode(params)}"


def consignment_position(cursor: str | None) -> ConsignmentKey | None:
    """Where the page starts; a 422 naming `cursor` for one this API did not issue."""
    if cursor is None:
        return None
    try:
        return cursors.decode_consignment_cursor(cursor)
    except cursors.InvalidCursor:
        raise invalid("cursor", _NOT_OURS) from None


def next_consignment_cursor(items: tuple[ConsignmentView, ...], has_more: bool) -> str | None:
    if not has_more or not items:
        return None
    return cursors.encode_consignment_cursor(items[-1].last_event_at, items[-1].consignment_id)


def alert_position(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        return cursors.decode_alert_cursor(cursor)
    except cursors.InvalidCursor:
        raise invalid("cursor", _NOT_OURS) from None


encode_alert_cursor = cursors.encode_alert_cursor
