"""API keys: the credential of services, the SDK and the operator.

A key reads `cfx_<id>_<secret>`:

- `cfx_` makes a leaked key recognisable to secret scanners and to our own log
  redaction;
- `<id>` is 12 characters of lowercase base32 (60 random bits). It is not secret: it
  names the stored record (`k/<id>`), appears in audit entries and survives redaction,
  so an operator can tell which key was used or leaked;
- `<secret>` is 32 random bytes, URL-safe base64 without padding (43 characters).

Only `hash_secret(secret)` is ever stored; the full key is shown once, at creation.

Why SHA-256 and not argon2 as for passwords: a password is guessable, so its hash must
be slow. A 256-bit random secret is not guessable at all: even a fast hash leaves
2**256 candidates to try, so slowness would buy nothing and would cost an argon2 run
(and 64 MiB) on every authenticated request of every service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

PREFIX = "cfx_"
ID_CHARS = 12
SECRET_BYTES = 32
MAX_KEY_CHARS = 256
"""Longer text is refused before any parsing: no key we issue comes near it."""

_ID = r"[a-z2-7]{12}"
_KEY_BODY = r"[A-Za-z0-9_-]{43,200}"
KEY_RE = re.compile(rf"cfx_(?P<id>{_ID})_(?P<secret>{_KEY_BODY})")
ID_RE = re.compile(_ID)
_HASH_RE = re.compile(r"[0-9a-f]{64}")


def new_key_id() -> str:
    """A fresh random key id: 12 lowercase base32 characters."""
    return base64.b32encode(secrets.token_bytes(8)).decode("ascii").lower()[:ID_CHARS]


def generate_api_key() -> tuple[str, str]:
    """Return `(key_id, full_key)` for a new key. Store only `hash_secret` of its secret."""
    key_id = new_key_id()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    return key_id, f"{PREFIX}{key_id}_{secret}"


def parse_api_key(text: str) -> tuple[str, str] | None:
    """Split a presented key into `(key_id, secret)`, or None when it is not one of ours.

    None (rather than an exception) lets the caller answer every malformed credential
    with the same 401, without a message that echoes the input.
    """
    if not isinstance(text, str) or len(text) > MAX_KEY_CHARS:
        return None
    match = KEY_RE.fullmatch(text)
    if match is None:
        return None
    return match["id"], match["secret"]


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret: SHA-256, lowercase hex (see the module doc)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def verify_secret(secret_hash: str, secret: str) -> bool:
    """True when `secret` hashes to `secret_hash`, compared in constant time.

    The comparison is on bytes so a corrupt stored hash answers False instead of
    raising (`hmac.compare_digest` refuses non-ASCII `str`).
    """
    if not isinstance(secret_hash, str) or not _HASH_RE.fullmatch(secret_hash):
        return False
    return hmac.compare_digest(
        hash_secret(secret).encode("ascii"), secret_hash.encode("ascii", "replace")
    )
