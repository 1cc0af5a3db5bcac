from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from corridor.events import CARRIER_NOT_NAMED
from services.common import keys_cli
from services.common.keys import (
    KEY_PREFIX,
    InvalidCarrierKey,
    Role,
    carrier_key_id,
    digests_match,
    generate_key,
    hash_key,
)
from services.common.keys_cli import issue_key


def test_keys_are_random_and_only_their_digest_identifies_them() -> None:
    first, second = generate_key(Role.CARRIER), generate_key(Role.CARRIER)
    assert first.plain != second.plain
    assert first.digest == hash_key(first.plain) != second.digest
    assert first.plain.startswith(f"{KEY_PREFIX}_car_")
    assert first.plain not in repr(first.digest)
    assert len(first.digest) == 64
    assert first.plain.startswith(first.lookup_prefix)


def test_digest_comparison() -> None:
    key = generate_key(Role.OPERATOR)
    assert digests_match(hash_key(key.plain), key.digest)
    assert not digests_match(hash_key(key.plain + "x"), key.digest)


@pytest.mark.parametrize(
    "carrier_id", [CARRIER_NOT_NAMED, "", None, "-leading-dash", "has space", "x" * 65]
)
def test_no_carrier_key_for_an_id_that_is_not_a_carrier(carrier_id: str | None) -> None:
    with pytest.raises(InvalidCarrierKey):
        carrier_key_id(carrier_id)


async def test_issuing_a_key_for_the_no_carrier_marker_is_refused_before_storing() -> None:
    never_used: Any = object()  # refused before the database is touched

    with pytest.raises(InvalidCarrierKey, match="name no carrier"):
        await issue_key(never_used, Role.CARRIER, "sees unclaimed", carrier_id=CARRIER_NOT_NAMED)


def test_the_cli_refuses_a_carrier_key_for_the_no_carrier_marker() -> None:
    result = CliRunner().invoke(
        keys_cli.app,
        ["create", "--role", "carrier", "--name", "x", "--carrier-id", CARRIER_NOT_NAMED],
    )

    assert result.exit_code == 2
    assert "marks events that name no" in " ".join(result.output.split())


def test_a_carrier_key_for_a_real_carrier_id_is_allowed() -> None:
    assert carrier_key_id("KZ-TC-01") == "KZ-TC-01"
