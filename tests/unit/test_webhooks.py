"""Webhook rules without I/O: what an endpoint is told, which targets are refused, backoff."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from corridor.notifications import ChangeKind, Notified, decide
from services.common.webhook_targets import TargetRefused, check_target
from services.dispatcher.delivery import RetryPolicy, signature

T0 = datetime(2026, 3, 10, 6, tzinfo=UTC)
ALL = frozenset(ChangeKind)
HOUR = timedelta(hours=1)


def test_the_first_word_is_a_change_of_state_location_and_eta() -> None:
    decision = decide(None, Notified("in_transit", "KZ-AKTAU", T0), ALL, HOUR)
    assert decision.changes == (ChangeKind.STATE, ChangeKind.LOCATION, ChangeKind.ETA)
    assert decision.notified == Notified("in_transit", "KZ-AKTAU", T0)


def test_nothing_new_tells_nothing_and_only_subscribed_kinds_are_told() -> None:
    known = Notified("at_location", "KZ-AKTAU", T0)
    assert decide(known, known, ALL, HOUR).changes == ()
    moved = Notified("in_transit", "KZ-AKTAU", T0)
    assert decide(known, moved, frozenset({ChangeKind.LOCATION}), HOUR).changes == ()


def test_small_eta_drifts_add_up_until_they_cross_the_threshold() -> None:
    known = Notified("in_transit", None, T0)
    drift = decide(known, Notified("in_transit", None, T0 + 40 * timedelta(minutes=1)), ALL, HOUR)
    assert drift.changes == ()
    assert drift.notified.eta_p50 == T0  # the ETA last sent stays the reference
    more = decide(
        drift.notified, Notified("in_transit", None, T0 + 70 * timedelta(minutes=1)), ALL, HOUR
    )
    assert more.changes == (ChangeKind.ETA,)
    assert more.notified.eta_p50 == T0 + 70 * timedelta(minutes=1)


async def _resolves_to(*addresses: str) -> object:
    async def resolver(host: str, port: int) -> Sequence[str]:
        return addresses

    return resolver


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://tms.example.com/h", "must use https"),
        ("ftp://tms.example.com/h", "must use https"),
        ("https:///h", "absolute URL with a host"),
        ("https://u:p@tms.example.com/h", "credentials"),
        ("https://169.254.169.254/", "link-local"),
        ("https://[::ffff:10.0.0.1]/", "private"),
        ("https://100.64.0.1/", "not a public address"),
    ],
)
async def test_urls_refused_whatever_they_resolve_to(url: str, why: str) -> None:
    with pytest.raises(TargetRefused, match=why):
        await check_target(url, frozenset(), resolver=await _resolves_to("93.184.216.34"))  # type: ignore[arg-type]


async def test_a_name_is_judged_by_every_address_it_resolves_to_at_delivery() -> None:
    rebinding = await _resolves_to("93.184.216.34", "127.0.0.1")
    with pytest.raises(TargetRefused, match="loopback"):
        await check_target("https://tms.example.com/h", frozenset(), resolver=rebinding)  # type: ignore[arg-type]
    public = await _resolves_to("93.184.216.34")
    await check_target("https://tms.example.com/h", frozenset(), resolver=public)  # type: ignore[arg-type]


async def test_an_unresolvable_name_is_accepted_at_registration_but_not_at_delivery() -> None:
    async def nowhere(host: str, port: int) -> Sequence[str]:
        raise OSError("no such host")

    await check_target("https://tms.example.com/h", frozenset(), nowhere, must_resolve=False)
    with pytest.raises(TargetRefused, match="does not resolve"):
        await check_target("https://tms.example.com/h", frozenset(), nowhere)


async def test_allowlisted_hosts_may_use_http_and_loopback() -> None:
    await check_target("http://127.0.0.1:8080/h", frozenset({"127.0.0.1"}))
    with pytest.raises(TargetRefused):
        await check_target("http://127.0.0.2:8080/h", frozenset({"127.0.0.1"}))


def test_backoff_doubles_is_capped_and_jittered_down_by_at_most_half() -> None:
    policy = RetryPolicy(max_attempts=8, base_seconds=30, max_seconds=600)
    rng = random.Random(1)
    for attempt, ceiling in ((1, 30), (2, 60), (3, 120), (6, 600), (7, 600)):
        delays = [policy.delay(attempt, rng).total_seconds() for _ in range(200)]
        assert ceiling / 2 <= min(delays)
        assert max(delays) <= ceiling
        assert max(delays) - min(delays) > ceiling / 4  # spread out, not in lockstep


def test_signature_is_standard_webhooks_v1_and_one_per_secret() -> None:
    # The Standard Webhooks specification's own example.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    at = datetime.fromtimestamp(1614265330, UTC)
    assert signature((secret,), "msg_p5jXN8AQM9LWM0D4loKWxJek", at, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    assert len(signature((secret, secret), "msg_1", at, body).split(" ")) == 2
