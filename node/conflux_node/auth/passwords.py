"""Password hashing with argon2id.

Passwords are low-entropy secrets chosen by people, so the stored hash must be slow
and memory-hard to make offline guessing after a leak of the replicated state
expensive. argon2id is the memory-hard function RFC 9106 recommends, and the parameters
are spelled out here instead of inherited from the library's defaults: the hashes are
replicated to every node and kept for years, so a library upgrade must never change
them silently. `needs_rehash` tells the login path when a stored hash was made with
other parameters, so it can re-hash on the next successful login.

Hashing costs tens of milliseconds and 64 MiB of memory on purpose; callers on an event
loop run these functions in an executor, and the login rate limiter bounds how many
run at once per user and address.
"""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from conflux_node.model.errors import InvalidInput

MAX_PASSWORD_CHARS = 1024
"""Longer inputs are refused before hashing: nobody types them, and an attacker could
use them to make each guess cost the server more than it costs the attacker."""

# RFC 9106, section 4, second recommended option: argon2id, t=3, m=64 MiB, p=4.
TIME_COST = 3
MEMORY_COST_KIB = 64 * 1024
PARALLELISM = 4
HASH_LEN = 32
SALT_LEN = 16

_HASHER = PasswordHasher(
    time_cost=TIME_COST,
    memory_cost=MEMORY_COST_KIB,
    parallelism=PARALLELISM,
    hash_len=HASH_LEN,
    salt_len=SALT_LEN,
    encoding="utf-8",
    type=Type.ID,
)

_dummy_lock = threading.Lock()
_dummy_hash: str | None = None


def check_password_input(password: str) -> str:
    """Return `password` when it is acceptable input, else raise `InvalidInput`.

    The message names the field and the rule, never the value.
    """
    if not isinstance(password, str) or not password:
        raise InvalidInput("password must not be empty", field="password")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(
            f"password must be at most {MAX_PASSWORD_CHARS} characters", field="password"
        )
    return password


def hash_password(password: str) -> str:
    """Return the argon2id PHC string (`$argon2id$v=19$m=...`) for `password`.

    A fresh random salt is drawn each time, so two hashes of one password differ.
    """
    return _HASHER.hash(check_password_input(password))


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when `password` matches `password_hash`; False for any mismatch.

    A wrong password, a corrupt or foreign hash all answer False instead of raising,
    so the caller has one path for "bad credentials". Pass `None` when the user does
    not exist: the password is then checked against a dummy hash so an unknown user
    costs as long as a wrong password, and response timing does not reveal which
    usernames exist. Malformed input (empty, too long) still raises `InvalidInput`.
    """
    check_password_input(password)
    target = _dummy() if password_hash is None else password_hash
    try:
        ok = _HASHER.verify(target, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError, UnicodeError):
        # UnicodeError: argon2 reads the hash as ASCII; a corrupt record may not be.
        return False
    return ok and password_hash is not None


def needs_rehash(password_hash: str) -> bool:
    """True when `password_hash` was made with other parameters than today's.

    An unparsable hash also answers True: replacing it on the next successful login is
    the only repair there is.
    """
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):  # UnicodeError is a ValueError
        return True


def _dummy() -> str:
    """A hash of a random password, made once per process, for unknown users."""
    global _dummy_hash  # noqa: PLW0603 - one lazily built constant per process
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = _HASHER.hash(secrets.token_urlsafe(32))
        return _dummy_hash
