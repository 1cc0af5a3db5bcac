"""Request and response documents of the webhook endpoints (`routes/webhooks.py`)."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from corridor.notifications import ChangeKind
from services.api.schemas import Schema, UtcDatetime

KINDS_DESCRIPTION = (
    "What to be told: `state` (the consignment's state changed), `location` (it is at, or "
    "left for, another location), `eta` (its expected arrival moved by more than "
    "`eta_threshold_minutes` since the ETA last sent), `alert` (an alert was raised about it)."
)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(_Request):
    url: str = Field(
        min_length=8,
        max_length=2_000,
        description="https URL that receives POSTs; private, loopback and link-local "
        "addresses are refused.",
        examples=["https://tms.example.com/hooks/corridor"],
    )
    kinds: list[ChangeKind] = Field(min_length=1, max_length=4, description=KINDS_DESCRIPTION)
    eta_threshold_minutes: int = Field(default=60, ge=1, le=10_080)
    description: str = Field(default="", max_length=200)


class EndpointUpdate(_Request):
    url: str | None = Field(default=None, min_length=8, max_length=2_000)
    kinds: list[ChangeKind] | None = Field(default=None, min_length=1, max_length=4)
    eta_threshold_minutes: int | None = Field(default=None, ge=1, le=10_080)
    description: str | None = Field(default=None, max_length=200)
    paused: bool | None = Field(
        default=None, description="Paused endpoints keep their queue; nothing is sent."
    )


class Endpoint(Schema):
    id: UUID
    url: str
    kinds: list[ChangeKind]
    eta_threshold_minutes: int
    description: str
    paused: bool
    created_at: UtcDatetime
    updated_at: UtcDatetime


class EndpointList(Schema):
    items: list[Endpoint]


class EndpointSecret(Schema):
    endpoint: Endpoint
    secret: str = Field(
        description="`whsec_` + base64 key of the HMAC-SHA256 signatures; shown only now.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )
    previous_secret_valid_until: UtcDatetime | None = Field(
        default=None,
        description="After a rotation, deliveries are signed with the old secret too until then.",
    )


class DeadLetter(Schema):
    id: str = Field(description="The delivery's `webhook-id`.", examples=["msg_2b1f..."])
    seq: int
    consignment_id: str
    event_type: str
    body: str = Field(description="The payload exactly as it was sent.")
    attempts: int
    last_status: int | None
    last_error: str | None
    created_at: UtcDatetime
    failed_at: UtcDatetime | None


class DeadLetterPage(Schema):
    items: list[DeadLetter]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null at the end."
    )


class ReplayRequest(_Request):
    delivery_id: str | None = Field(
        default=None, max_length=64, description="One dead letter; omit to replay them all."
    )


class Replayed(Schema):
    replayed: int = Field(description="Dead letters queued again, in their original order.")


ENDPOINT_EXAMPLE = {
    "id": "0b6c1c8e-2f51-4f0e-9d1a-6f3a2d9e4b17",
    "url": "https://tms.example.com/hooks/corridor",
    "kinds": ["state", "eta", "alert"],
    "eta_threshold_minutes": 60,
    "description": "TMS",
    "paused": False,
    "created_at": "2026-03-02T06:15:00Z",
    "updated_at": "2026-03-02T06:15:00Z",
}
SECRET_EXAMPLE = {
    "endpoint": ENDPOINT_EXAMPLE,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "previous_secret_valid_until": None,
}
DEAD_LETTER_EXAMPLE = {
    "items": [
        {
            "id": "msg_5f0e3a4c9b2d4e6f8a1b3c5d7e9f0a2b",
            "seq": 1042,
            "consignment_id": "MC-2026-000123",
            "event_type": "consignment.state_changed",
            "body": '{"data":{"consignment_id":"MC-2026-000123","state":"at_location"},'
            '"timestamp":"2026-03-02T06:15:00Z","type":"consignment.state_changed"}',
            "attempts": 8,
            "last_status": 500,
            "last_error": "answered 500",
            "created_at": "2026-03-02T06:15:02Z",
            "failed_at": "2026-03-02T09:40:11Z",
        }
    ],
    "next_after": None,
}


def example(document: object, status: int = 200) -> dict[int | str, dict[str, object]]:
    return {status: {"content": {"application/json": {"example": document}}}}
