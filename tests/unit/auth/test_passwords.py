"""argon2id password hashing: round trip, refusals, and rehash decisions."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher, Type

from conflux_node.auth.passwords import (
    MAX_PASSWORD_CHARS,
    hash_password,
    needs_rehash,
    verify_password,
)
from conflux_node.model.errors import InvalidInput


@pytest.fixture(scope="module")
def stored() -> str:
    return hash_password("correct horse battery staple")


def test_round_trip(stored: str) -> None:
    assert verify_password(stored, "correct horse battery staple") is True


def test_wrong_password_is_false_not_an_error(stored: str) -> None:
    assert verify_password(stored, "correct horse battery stapler") is False
    assert verify_password(stored, "Correct horse battery staple") is False


def test_hash_is_argon2id_with_the_stated_parameters(stored: str) -> None:
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in stored


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first != second
    assert verify_password(first, "same") and verify_password(second, "same")


def test_unicode_password_round_trips() -> None:
    assert verify_password(hash_password("pässwörd-密码"), "pässwörd-密码") is True


@pytest.mark.parametrize("garbage", ["", "not-a-hash", "$argon2id$v=19$m=1,t=1,p=1$x$y", "é"])
def test_corrupt_hash_is_false(garbage: str) -> None:
    assert verify_password(garbage, "anything") is False


def test_unknown_user_still_answers_false() -> None:
    assert verify_password(None, "whatever") is False


@pytest.mark.parametrize("bad", ["", "x" * (MAX_PASSWORD_CHARS + 1)])
def test_empty_and_overlong_passwords_are_invalid_input(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        hash_password(bad)
    assert caught.value.details == {"field": "password"}
    with pytest.raises(InvalidInput):
        verify_password(None, bad)


def test_longest_allowed_password_is_accepted() -> None:
    longest = "y" * MAX_PASSWORD_CHARS
    assert verify_password(hash_password(longest), longest) is True


def test_error_message_never_holds_the_password() -> None:
    secret = "s3cr3t!" * 200
    with pytest.raises(InvalidInput) as caught:
        hash_password(secret)
    assert "s3cr3t" not in str(caught.value)
    assert "s3cr3t" not in repr(caught.value.to_json())


def test_needs_rehash(stored: str) -> None:
    assert needs_rehash(stored) is False
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    old = weaker.hash("pw")
    assert needs_rehash(old) is True
    # The old hash still verifies, so the login path can upgrade it.
    assert verify_password(old, "pw") is True
    assert needs_rehash("garbage") is True
    assert needs_rehash("é") is True


def test_unknown_user_costs_a_real_verification(monkeypatch: pytest.MonkeyPatch) -> None:
    """No shortcut for unknown users: their timing must match a wrong password's."""
    from conflux_node.auth import passwords

    checked: list[str] = []
    real = passwords._HASHER

    class Spy:
        def verify(self, hash: str, password: str) -> bool:
            checked.append(hash)
            return real.verify(hash, password)

    monkeypatch.setattr(passwords, "_HASHER", Spy())
    assert verify_password(None, "whatever") is False
    assert len(checked) == 1 and checked[0].startswith("$argon2id$v=19$m=65536,t=3,p=4$")
