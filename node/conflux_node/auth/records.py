"""Identity records as the auth layer reads them from the replicated state.

The model layer owns these records and their commands; this module reads them as
plain JSON through the `StateView` protocol, so auth depends on their key layout and
field names only:

    u/<username>            {username, password_hash, system_admin}
    b/<tenant>/<username>   {tenant, user, role}
    k/<key_id>              {id, tenant, name, role, secret_hash, expires_at, revoked_at}

A record that does not parse is skipped and logged, never trusted: it grants nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conflux_node.auth.apikeys import verify_secret
from conflux_node.auth.errors import Unauthenticated
from conflux_node.auth.policy import Binding, PolicyData
from conflux_node.model.view import StateView

log = logging.getLogger(__name__)

USERS_PREFIX = b"u/"
BINDINGS_PREFIX = b"b/"
APIKEYS_PREFIX = b"k/"


def apikey_key(key_id: str) -> bytes:
    """The state key of one API key's record."""
    return APIKEYS_PREFIX + key_id.encode()


def _records(view: StateView, prefix: bytes) -> Iterator[dict[str, Any]]:
    for key, raw in view.scan(prefix):
        try:
            record = json.loads(raw)
        except ValueError:
            log.warning("auth: skipped unparsable record %r", key)
            continue
        if isinstance(record, dict):
            yield record
        else:
            log.warning("auth: skipped non-object record %r", key)


def load_policy_data(view: StateView) -> PolicyData:
    """Everything `policy.build_enforcer` needs, read from the state.

    Revoked keys are left out, so the policy grants them nothing even if a caller
    forgot `check_api_key`. Expiry depends on the clock, which a cached policy does not
    have; `check_api_key` enforces it on every request.
    """
    admins = tuple(
        str(rec["username"])
        for rec in _records(view, USERS_PREFIX)
        if rec.get("system_admin") is True and isinstance(rec.get("username"), str)
    )
    bindings: list[Binding] = []
    for rec in _records(view, BINDINGS_PREFIX):
        entry = _triple(rec, "user")
        if entry is not None:
            bindings.append(entry)
    keys: list[Binding] = []
    for rec in _records(view, APIKEYS_PREFIX):
        entry = _triple(rec, "id")
        if entry is not None and not rec.get("revoked_at"):
            keys.append(entry)
    return PolicyData(tuple(bindings), admins, tuple(keys))


def _triple(rec: Mapping[str, Any], name_field: str) -> Binding | None:
    name, tenant, role = rec.get(name_field), rec.get("tenant"), rec.get("role")
    if isinstance(name, str) and isinstance(tenant, str) and isinstance(role, str):
        return name, tenant, role
    log.warning("auth: skipped malformed identity record fields=%s", sorted(rec))
    return None


@dataclass(frozen=True, slots=True)
class ApiKeyIdentity:
    """Who a verified API key speaks for."""

    key_id: str
    tenant: str
    role: str
    name: str


def check_api_key(
    record: Mapping[str, Any] | None, key_id: str, secret: str, now: datetime
) -> ApiKeyIdentity:
    """Decide whether a presented key is good, given its stored record (pure).

    `record` is the parsed `k/<key_id>` record, or None when there is none. Every
    refusal is the same `Unauthenticated` to the client; `details.reason` (never the
    key) lets the audit log tell an unknown key from a revoked or expired one. The
    secret is compared before the record's state is looked at, so a guess at a
    revoked key's id learns nothing.
    """
    if record is None or record.get("id") != key_id:
        raise Unauthenticated("invalid API key", reason="unknown")
    if not verify_secret(str(record.get("secret_hash", "")), secret):
        raise Unauthenticated("invalid API key", reason="mismatch")
    if record.get("revoked_at"):
        raise Unauthenticated("invalid API key", reason="revoked")
    expires_at = record.get("expires_at")
    if expires_at:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if now >= _parse_time(expires_at):
            raise Unauthenticated("invalid API key", reason="expired")
    tenant, role, name = record.get("tenant"), record.get("role"), record.get("name", "")
    if not isinstance(tenant, str) or not isinstance(role, str):
        raise Unauthenticated("invalid API key", reason="malformed")
    return ApiKeyIdentity(key_id, tenant, role, str(name))


def _parse_time(value: object) -> datetime:
    """An RFC 3339 string or epoch seconds. Anything else, or a time without a zone,
    counts as already past: a key whose expiry cannot be read must not live forever.
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        parsed = datetime.fromisoformat(str(value))
    except (ValueError, OverflowError, OSError):
        return _LONG_AGO
    return _LONG_AGO if parsed.tzinfo is None else parsed


_LONG_AGO = datetime.min.replace(tzinfo=UTC)
