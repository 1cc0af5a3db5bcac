from __future__ import annotations

from services.common.keys import KEY_PREFIX, Role, digests_match, generate_key, hash_key


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
