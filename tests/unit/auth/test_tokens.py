"""JWT issue and verification: expiry, tampering, keys, algorithms, issuer."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from conflux_node.auth.errors import Unauthenticated
from conflux_node.auth.tokens import (
    Claims,
    generate_signing_key,
    issue_token,
    verify_token,
)

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
TTL = timedelta(hours=1)
NO_SKEW = timedelta(0)


def _issue(**overrides: object) -> str:
    args: dict[str, object] = {"key": KEY, "subject": "alice", "now": T0, "ttl": TTL, "jti": "j1"}
    args.update(overrides)
    token, _ = issue_token(**args)  # type: ignore[arg-type]
    return token


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _unb64(part: str) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def _refused(token: str, key: bytes = KEY, now: datetime = T0, **kw: object) -> Unauthenticated:
    with pytest.raises(Unauthenticated) as caught:
        verify_token(key, token, now, **kw)  # type: ignore[arg-type]
    error = caught.value
    assert error.code == "unauthenticated"
    if len(token) >= 8:  # shorter strings could occur in any text by chance
        assert token not in str(error)
        assert token not in json.dumps(error.to_json())
    # No chained library exception that could carry the token into a traceback.
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    return error


def test_round_trip_returns_claims() -> None:
    token, expires_at = issue_token(KEY, "alice", T0, TTL, jti="j1")
    assert expires_at == T0 + TTL
    claims = verify_token(KEY, token, T0 + timedelta(minutes=5))
    assert claims == Claims("alice", T0, T0 + TTL, "conflux", "j1")


def test_issue_is_deterministic_given_inputs() -> None:
    assert _issue() == _issue()
    assert _issue(jti="j2") != _issue()


def test_claims_on_the_wire() -> None:
    payload = _unb64(_issue().split(".")[1])
    assert payload == {
        "sub": "alice",
        "iat": int(T0.timestamp()),
        "exp": int((T0 + TTL).timestamp()),
        "iss": "conflux",
        "jti": "j1",
    }
    assert _unb64(_issue().split(".")[0])["alg"] == "HS256"


def test_expired_token_is_refused_at_exp_plus_leeway() -> None:
    token = _issue()
    verify_token(KEY, token, T0 + TTL - timedelta(seconds=1), leeway=NO_SKEW)
    assert "expired" in _refused(token, now=T0 + TTL, leeway=NO_SKEW).message
    # The default leeway tolerates 30 s of clock skew between nodes, not more.
    verify_token(KEY, token, T0 + TTL + timedelta(seconds=29))
    _refused(token, now=T0 + TTL + timedelta(seconds=30))


def test_token_from_the_future_is_refused() -> None:
    token = _issue(now=T0 + timedelta(minutes=5))
    assert "future" in _refused(token, now=T0).message


def _flip(text: str, index: int) -> str:
    return text[:index] + ("A" if text[index] != "A" else "B") + text[index + 1 :]


def test_flipped_signature_char_is_refused() -> None:
    header, payload, signature = _issue().split(".")
    tampered = f"{header}.{payload}.{_flip(signature, len(signature) // 2)}"
    _refused(tampered)


def test_flipped_payload_char_is_refused() -> None:
    header, payload, signature = _issue().split(".")
    tampered = f"{header}.{_flip(payload, len(payload) // 2)}.{signature}"
    _refused(tampered)


def test_rewritten_payload_with_old_signature_is_refused() -> None:
    header, payload, signature = _issue().split(".")
    claims = _unb64(payload)
    claims["sub"] = "admin"
    assert "signature" in _refused(f"{header}.{_b64(claims)}.{signature}").message


def test_wrong_key_is_refused() -> None:
    _refused(_issue(), key=OTHER_KEY)


def test_alg_none_is_refused() -> None:
    claims = _unb64(_issue().split(".")[1])
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    assert "algorithm" in _refused(unsigned).message
    library_made = jwt.encode(claims, "", algorithm="none")
    _refused(library_made)


def test_other_hmac_algorithm_is_refused() -> None:
    claims = _unb64(_issue().split(".")[1])
    _refused(jwt.encode(claims, KEY * 2, algorithm="HS512"), key=KEY * 2)


def test_wrong_issuer_is_refused() -> None:
    token = _issue(issuer="someone-else")
    assert "issuer" in _refused(token).message
    assert verify_token(KEY, token, T0, issuer="someone-else").issuer == "someone-else"


@pytest.mark.parametrize("missing", ["sub", "iat", "exp", "iss", "jti"])
def test_missing_claim_is_refused(missing: str) -> None:
    claims = _unb64(_issue().split(".")[1])
    del claims[missing]
    _refused(jwt.encode(claims, KEY, algorithm="HS256"))


@pytest.mark.parametrize("garbage", ["", "x", "a.b.c", "a.b", "...", "é.é.é", "x" * 10_000])
def test_garbage_is_refused(garbage: str) -> None:
    _refused(garbage)


def test_short_key_naive_time_and_bad_ttl_are_programming_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        issue_token(b"short", "alice", T0, TTL, jti="j")
    with pytest.raises(ValueError, match="timezone"):
        issue_token(KEY, "alice", datetime(2026, 1, 1), TTL, jti="j")
    with pytest.raises(ValueError, match="ttl"):
        issue_token(KEY, "alice", T0, timedelta(0), jti="j")
    with pytest.raises(ValueError, match="subject"):
        issue_token(KEY, "", T0, TTL, jti="j")


def test_generated_signing_keys_are_random_and_long_enough() -> None:
    first, second = generate_signing_key(), generate_signing_key()
    assert len(first) == 32 and first != second
    token, _ = issue_token(first, "bob", T0, TTL, jti="j")
    assert verify_token(first, token, T0).subject == "bob"
    _refused(token, key=second)
