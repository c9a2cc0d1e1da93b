"""Who may act: tenants, users, role bindings and API keys, as replicated entities.

Everything the auth layer decides from lives here, in the same state as the configs,
so every node authorises against the same data with no second database. Only hashes
are stored: the proposer hashes passwords (argon2id) and API-key secrets before the
command enters the log. `public()` forms drop the hashes; use them for API answers.

The read helpers are pure functions of a `StateView`, for the service and auth layers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from conflux_node.model import keys
from conflux_node.model.errors import InvalidInput
from conflux_node.model.view import StateView

ROLES: tuple[str, ...] = ("tenant-admin", "editor", "releaser", "viewer", "client")
"""The built-in roles a user or API key can hold in one tenant."""

ARGON2ID_PREFIX = "$argon2id$"
"""A password hash must be argon2id. Refusing anything else keeps a plain password
that slipped past the proposer out of the log and the state."""

MIN_JWT_KEY_CHARS = 43
"""The signing key travels as text (base64url or hex); 43 base64url characters are the
fewest that can carry the 32 random bytes HS256 wants."""


@dataclass(frozen=True, slots=True)
class Tenant:
    name: str
    created_at: str
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Tenant:
        return cls(data["name"], data["created_at"], data["created_by"])


@dataclass(frozen=True, slots=True)
class User:
    username: str
    password_hash: str
    system_admin: bool
    created_at: str
    created_by: str
    # Tokens issued before this instant can be refused after a password change.
    password_changed_at: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """The user without its password hash, for answers and logs."""
        out = self.to_json()
        del out["password_hash"]
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> User:
        return cls(
            username=data["username"],
            password_hash=data["password_hash"],
            system_admin=bool(data["system_admin"]),
            created_at=data["created_at"],
            created_by=data["created_by"],
            password_changed_at=data.get("password_changed_at", data["created_at"]),
        )


@dataclass(frozen=True, slots=True)
class Binding:
    tenant: str
    user: str
    role: str
    created_at: str
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Binding:
        return cls(
            data["tenant"], data["user"], data["role"], data["created_at"], data["created_by"]
        )


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant: str
    name: str
    role: str
    secret_hash: str
    created_at: str
    created_by: str
    expires_at: str | None = None
    revoked_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def public(self) -> dict[str, Any]:
        """The key without its secret hash, for answers and logs."""
        out = self.to_json()
        del out["secret_hash"]
        return out

    def usable_at(self, now: datetime) -> bool:
        """Whether the key authenticates at `now` (an aware datetime the caller reads)."""
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or now < parse_time("expires_at", self.expires_at)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ApiKey:
        return cls(
            id=data["id"],
            tenant=data["tenant"],
            name=data["name"],
            role=data["role"],
            secret_hash=data["secret_hash"],
            created_at=data["created_at"],
            created_by=data["created_by"],
            expires_at=data.get("expires_at"),
            revoked_at=data.get("revoked_at"),
        )


# --- validation (pure; `apply` runs it again, the service may run it first) ----------


def check_role(role: object) -> str:
    if not isinstance(role, str) or role not in ROLES:
        raise InvalidInput(
            f"role must be one of {', '.join(ROLES)}", field="role", allowed=list(ROLES)
        )
    return role


def check_password_hash(field: str, value: object) -> str:
    if not isinstance(value, str) or not value.startswith(ARGON2ID_PREFIX):
        raise InvalidInput(f"{field} must be an argon2id hash", field=field)
    return value


def check_secret_hash(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInput("secret_hash must be a non-empty hash", field="secret_hash")
    return value


def check_jwt_key(value: object) -> str:
    if not isinstance(value, str) or len(value) < MIN_JWT_KEY_CHARS:
        raise InvalidInput(
            f"jwt_key must be at least {MIN_JWT_KEY_CHARS} characters", field="jwt_key"
        )
    return value


def parse_time(field: str, value: object) -> datetime:
    """An ISO-8601 instant with a UTC offset; naive times are ambiguous across nodes."""
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise InvalidInput(f"{field} must be an ISO-8601 time with a UTC offset", field=field)
    return parsed


# --- reads ---------------------------------------------------------------------------


def _load(view: StateView, key: bytes) -> dict[str, Any] | None:
    raw = view.get(key)
    return None if raw is None else json.loads(raw)


def read_tenant(view: StateView, name: str) -> Tenant | None:
    data = _load(view, keys.tenant_key(name))
    return None if data is None else Tenant.from_json(data)


def tenant_exists(view: StateView, name: str) -> bool:
    return view.get(keys.tenant_key(name)) is not None


def list_tenants(view: StateView) -> list[Tenant]:
    return [Tenant.from_json(json.loads(v)) for _, v in view.scan(keys.TENANTS_PREFIX)]


def read_user(view: StateView, username: str) -> User | None:
    data = _load(view, keys.user_key(username))
    return None if data is None else User.from_json(data)


def list_users(view: StateView) -> list[User]:
    return [User.from_json(json.loads(v)) for _, v in view.scan(keys.USERS_PREFIX)]


def has_users(view: StateView) -> bool:
    return next(iter(view.scan(keys.USERS_PREFIX)), None) is not None


def read_binding(view: StateView, tenant: str, username: str) -> Binding | None:
    data = _load(view, keys.binding_key(tenant, username))
    return None if data is None else Binding.from_json(data)


def bindings_in(view: StateView, tenant: str) -> list[Binding]:
    return [Binding.from_json(json.loads(v)) for _, v in view.scan(keys.bindings_prefix(tenant))]


def bindings_of(view: StateView, username: str) -> list[Binding]:
    """Every tenant role of one user. A full scan of `b/`: bindings are few."""
    suffix = b"/" + username.encode()
    return [
        Binding.from_json(json.loads(v))
        for k, v in view.scan(keys.BINDINGS_PREFIX)
        if k.endswith(suffix)
    ]


def read_api_key(view: StateView, key_id: str) -> ApiKey | None:
    data = _load(view, keys.api_key_key(key_id))
    return None if data is None else ApiKey.from_json(data)


def api_keys_in(view: StateView, tenant: str) -> list[ApiKey]:
    found = (ApiKey.from_json(json.loads(v)) for _, v in view.scan(keys.API_KEYS_PREFIX))
    return [key for key in found if key.tenant == tenant]


def read_jwt_key(view: StateView) -> str | None:
    data = _load(view, keys.JWT_KEY)
    return None if data is None else str(data["key"])


def identity_rev(view: StateView) -> int:
    """Changes whenever any tenant, user, binding or key changes: a cache stamp."""
    return int(view.get(keys.IDENTITY_REV) or b"0")
