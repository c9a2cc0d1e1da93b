"""Session tokens: JWTs signed with HS256, issued at login and verified on every node.

HS256 with a key shared through the replicated state (or settings) means any node can
verify a token any other node issued, with no call to an identity service. The
functions take the clock (`now`) and the token id (`jti`) as inputs, so they are
deterministic and the tests need no freezing of time.

The token names only who the caller is (`sub`). Roles are looked up in the live
policy on every request, so removing a binding takes effect at once instead of when
the token expires. `jti` gives each token an identity for audit and a future deny list.

Verification accepts exactly HS256: the algorithm list is fixed, so a token claiming
`alg: none` or an asymmetric algorithm (the classic key-confusion attacks) is refused
before its signature is even considered. Every failure raises `Unauthenticated` with a
fixed message and without the exception chain: the token itself never reaches an error
body or a log line.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeGuard

import jwt

from conflux_node.auth.errors import Unauthenticated

ALGORITHM = "HS256"
DEFAULT_ISSUER = "conflux"
MIN_KEY_BYTES = 32
"""RFC 7518 3.2: an HS256 key must be at least as long as the hash output."""
DEFAULT_LEEWAY = timedelta(seconds=30)
"""Tolerated clock skew between the issuing and the verifying node."""
MAX_TOKEN_CHARS = 8192
_REQUIRED = ("sub", "iat", "exp", "iss", "jti")


@dataclass(frozen=True, slots=True)
class Claims:
    """The verified content of a token."""

    subject: str
    issued_at: datetime
    expires_at: datetime
    issuer: str
    jti: str


def generate_signing_key() -> bytes:
    """A fresh random HS256 key (32 bytes), for bootstrap to store in the cluster state."""
    return secrets.token_bytes(MIN_KEY_BYTES)


def new_jti() -> str:
    """A fresh random token id; the caller draws it so `issue_token` stays deterministic."""
    return secrets.token_urlsafe(16)


def issue_token(
    key: bytes,
    subject: str,
    now: datetime,
    ttl: timedelta,
    *,
    jti: str,
    issuer: str = DEFAULT_ISSUER,
) -> tuple[str, datetime]:
    """Sign a token for `subject`, valid from `now` for `ttl`; return `(token, expires_at)`.

    Times are whole seconds (JWT NumericDate); `expires_at` is the exact instant the
    `exp` claim names, so what the login answer reports is what verification enforces.
    """
    _check_key(key)
    if not subject:
        raise ValueError("subject must not be empty")
    if not jti:
        raise ValueError("jti must not be empty")
    if ttl <= timedelta(0):
        raise ValueError("ttl must be positive")
    iat = int(_aware(now).timestamp())
    exp = iat + max(1, int(ttl.total_seconds()))
    claims = {"sub": subject, "iat": iat, "exp": exp, "iss": issuer, "jti": jti}
    token = jwt.encode(claims, key, algorithm=ALGORITHM)
    return token, datetime.fromtimestamp(exp, UTC)


def verify_token(
    key: bytes,
    token: str,
    now: datetime,
    *,
    issuer: str = DEFAULT_ISSUER,
    leeway: timedelta = DEFAULT_LEEWAY,
) -> Claims:
    """Return the claims of `token` when it is authentic and current at `now`.

    Raises `Unauthenticated` when the token is malformed, signed with another key or
    algorithm, tampered with, issued by someone else, missing a claim, expired, or
    issued in the future (beyond `leeway`).
    """
    _check_key(key)
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("malformed token")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            issuer=issuer,
            options={
                "require": list(_REQUIRED),
                # Time is checked below against the injected clock, not the host's.
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidIssuerError:
        raise Unauthenticated("token issuer not accepted") from None
    except jwt.MissingRequiredClaimError:
        raise Unauthenticated("token lacks a required claim") from None
    except jwt.InvalidSignatureError:
        raise Unauthenticated("token signature invalid", reason="signature") from None
    except jwt.InvalidAlgorithmError:
        raise Unauthenticated("token algorithm not accepted") from None
    except jwt.InvalidTokenError:
        raise Unauthenticated("malformed token") from None
    return _check_times(payload, _aware(now), leeway)


def _check_times(payload: dict[str, object], now: datetime, leeway: timedelta) -> Claims:
    iat, exp = payload["iat"], payload["exp"]
    sub, iss, jti = payload["sub"], payload["iss"], payload["jti"]
    if not _is_int(iat) or not _is_int(exp):
        raise Unauthenticated("token times malformed")
    if not isinstance(sub, str) or not sub or not isinstance(iss, str):
        raise Unauthenticated("token subject malformed")
    if not isinstance(jti, str) or not jti:
        raise Unauthenticated("token id malformed")
    now_s = now.timestamp()
    slack = leeway.total_seconds()
    if now_s >= exp + slack:
        raise Unauthenticated("token expired")
    if iat > now_s + slack:
        raise Unauthenticated("token issued in the future")
    return Claims(
        subject=sub,
        issued_at=datetime.fromtimestamp(iat, UTC),
        expires_at=datetime.fromtimestamp(exp, UTC),
        issuer=iss,
        jti=jti,
    )


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
        raise ValueError(f"signing key must be at least {MIN_KEY_BYTES} bytes")


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now
