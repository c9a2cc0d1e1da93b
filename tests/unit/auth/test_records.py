"""Identity records read from state, and the API-key acceptance decision."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from conflux_node.auth.apikeys import generate_api_key, hash_secret, parse_api_key
from conflux_node.auth.errors import Unauthenticated
from conflux_node.auth.policy import apikey_subject, build_enforcer, user_subject
from conflux_node.auth.records import ApiKeyIdentity, check_api_key, load_policy_data

NOW = datetime(2026, 3, 1, tzinfo=UTC)


class FakeView:
    def __init__(self, records: dict[str, Any]) -> None:
        self._data = {
            k.encode(): v if isinstance(v, bytes) else json.dumps(v).encode()
            for k, v in records.items()
        }

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        items = sorted((k, v) for k, v in self._data.items() if k.startswith(prefix))
        return iter(reversed(items) if reverse else items)


def _key(key_id: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": key_id, "tenant": "a", "name": "svc", "role": "client"}
    base.update(secret_hash=hash_secret("s"), expires_at=None, revoked_at=None)
    base.update(fields)
    return base


STATE = {
    "t/a": {"name": "a"},
    "u/root": {"username": "root", "password_hash": "$argon2id$x", "system_admin": True},
    "u/bob": {"username": "bob", "password_hash": "$argon2id$y", "system_admin": False},
    "u/eve": {"username": "eve", "password_hash": "$argon2id$z", "system_admin": "yes"},
    "b/a/bob": {"tenant": "a", "user": "bob", "role": "editor"},
    "b/a/broken": b"{not json",
    "b/a/list": [1, 2],
    "b/a/partial": {"tenant": "a", "role": "viewer"},
    "k/aaaaaaaaaaaa": _key("aaaaaaaaaaaa"),
    "k/bbbbbbbbbbbb": _key("bbbbbbbbbbbb", revoked_at="2026-02-01T00:00:00+00:00"),
}


def test_load_policy_data() -> None:
    data = load_policy_data(FakeView(STATE))
    assert data.system_admins == ("root",)  # "yes" is not True
    assert data.bindings == (("bob", "a", "editor"),)
    assert data.api_keys == (("aaaaaaaaaaaa", "a", "client"),)


def test_loaded_policy_end_to_end() -> None:
    data = load_policy_data(FakeView(STATE))
    enforcer = build_enforcer(data.bindings, data.system_admins, data.api_keys)
    assert enforcer.allowed(user_subject("bob"), "a", "version.create")
    assert enforcer.allowed(user_subject("root"), None, "user.admin")
    assert not enforcer.allowed(user_subject("eve"), None, "user.admin")
    assert enforcer.allowed(apikey_subject("aaaaaaaaaaaa"), "a", "fetch")
    assert not enforcer.allowed(apikey_subject("bbbbbbbbbbbb"), "a", "fetch"), "revoked"


def _stored(**fields: Any) -> tuple[dict[str, Any], str, str]:
    key_id, key = generate_api_key()
    parsed = parse_api_key(key)
    assert parsed is not None
    return _key(key_id, secret_hash=hash_secret(parsed[1]), **fields), key_id, parsed[1]


def _reason(record: dict[str, Any] | None, key_id: str, secret: str) -> str:
    with pytest.raises(Unauthenticated) as caught:
        check_api_key(record, key_id, secret, NOW)
    assert caught.value.message == "invalid API key"
    assert secret not in json.dumps(caught.value.to_json())
    return str(caught.value.details["reason"])


def test_good_key_is_accepted() -> None:
    record, key_id, secret = _stored(expires_at="2026-03-02T00:00:00+00:00")
    assert check_api_key(record, key_id, secret, NOW) == ApiKeyIdentity(
        key_id, "a", "client", "svc"
    )


def test_refusals() -> None:
    record, key_id, secret = _stored()
    assert _reason(None, key_id, secret) == "unknown"
    assert _reason(record, "cccccccccccc", secret) == "unknown"
    assert _reason(record, key_id, secret[:-1] + "x") == "mismatch"
    revoked = {**record, "revoked_at": "2026-02-01T00:00:00+00:00"}
    assert _reason(revoked, key_id, secret) == "revoked"
    assert _reason(revoked, key_id, "wrong") == "mismatch", "no state is revealed to a guess"


@pytest.mark.parametrize(
    ("expires_at", "reason"),
    [
        ("2026-03-01T00:00:00+00:00", "expired"),  # expiry is exclusive
        ("2026-02-28T23:59:59Z", "expired"),
        (NOW.timestamp() - 1, "expired"),
        ("2026-03-01T00:00:00", "expired"),  # no zone: fail closed
        ("soon", "expired"),
        (10**20, "expired"),
    ],
)
def test_expired_or_unreadable_expiry_is_refused(expires_at: object, reason: str) -> None:
    record, key_id, secret = _stored(expires_at=expires_at)
    assert _reason(record, key_id, secret) == reason


def test_epoch_expiry_in_the_future_is_accepted() -> None:
    record, key_id, secret = _stored(expires_at=(NOW + timedelta(seconds=1)).timestamp())
    assert check_api_key(record, key_id, secret, NOW).key_id == key_id
