"""Identity use-cases: tenants, users, role bindings, API keys and the audit log.

Each write validates its body here (so a bad request is a 400 before anything enters
the log), turns secrets into hashes on this node (argon2id for passwords, SHA-256 for
API-key secrets) and proposes the model's command, stamped with `now` and the actor.
Only hashes ever reach the log, the state or an answer; the one exception is a new
API key, returned once to its creator and never again.

Reads are served from this node's applied state, like config reads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from conflux_node.auth.apikeys import ID_RE, PREFIX, generate_api_key, hash_secret
from conflux_node.auth.errors import Forbidden
from conflux_node.auth.passwords import check_password_input, hash_password, verify_password
from conflux_node.consensus.bridge import Proposer
from conflux_node.model import identity as ident
from conflux_node.model.audit import MAX_PAGE, list_audit
from conflux_node.model.audit_retention import (
    MAX_KEEP_DAYS,
    MAX_KEEP_LAST,
    check_limit,
    read_audit_retention,
)
from conflux_node.model.commands import (
    BindRole,
    CreateApiKey,
    CreateTenant,
    CreateUser,
    DeleteTenant,
    DeleteUser,
    RevokeApiKey,
    SetAuditRetention,
    SetPassword,
    UnbindRole,
)
from conflux_node.model.errors import (
    ApiKeyNotFound,
    BindingNotFound,
    InvalidInput,
    TenantNotFound,
    UserNotFound,
)
from conflux_node.model.names import check_name
from conflux_node.model.view import StateView
from conflux_node.service.bodies import reject_unknown, require_object
from conflux_node.service.proposing import Clock, propose, stamp, utc_now

DEFAULT_AUDIT_PAGE = 100


def _text(body: Mapping[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{field} must be a non-empty string", field=field)
    return value


class IdentityAdmin:
    """The admin API's use-cases; `api.guard` authorizes the caller before each one."""

    def __init__(self, view: StateView, proposer: Proposer, *, clock: Clock = utc_now) -> None:
        self._view = view
        self._proposer = proposer
        self._clock = clock

    def _now(self) -> str:
        return stamp(self._clock)

    # --- tenants -----------------------------------------------------------------------

    async def create_tenant(self, body: object, actor: str) -> Mapping[str, Any]:
        data = require_object(body)
        reject_unknown(data, {"name"})
        name = check_name("name", _text(data, "name"))
        result = await propose(self._proposer, CreateTenant(name, actor, self._now()))
        return dict(result["tenant"])

    def list_tenants(self) -> dict[str, Any]:
        return {"items": [t.to_json() for t in ident.list_tenants(self._view)]}

    def get_tenant(self, name: str) -> dict[str, Any]:
        tenant = ident.read_tenant(self._view, check_name("tenant", name))
        if tenant is None:
            raise TenantNotFound(f"tenant {name} does not exist", tenant=name)
        return tenant.to_json()

    async def delete_tenant(self, name: str, actor: str) -> Mapping[str, Any]:
        check_name("tenant", name)
        return await propose(self._proposer, DeleteTenant(name, actor, self._now()))

    # --- users ---------------------------------------------------------------------------

    async def create_user(self, body: object, actor: str) -> dict[str, Any]:
        data = require_object(body)
        reject_unknown(data, {"username", "password", "system_admin"})
        username = check_name("username", _text(data, "username"))
        password = check_password_input(data.get("password"))  # type: ignore[arg-type]
        system_admin = data.get("system_admin", False)
        if not isinstance(system_admin, bool):
            raise InvalidInput("system_admin must be a boolean", field="system_admin")
        # argon2id costs tens of milliseconds and 64 MiB: keep it off the event loop.
        password_hash = await asyncio.to_thread(hash_password, password)
        command = CreateUser(username, password_hash, system_admin, actor, self._now())
        await propose(self._proposer, command)
        return self.get_user(username)

    def list_users(self) -> dict[str, Any]:
        return {"items": [u.public() for u in ident.list_users(self._view)]}

    def get_user(self, username: str) -> dict[str, Any]:
        user = ident.read_user(self._view, check_name("user", username))
        if user is None:
            raise UserNotFound(f"user {username} does not exist", user=username)
        bindings = ident.bindings_of(self._view, username)
        return {
            **user.public(),
            "bindings": [{"tenant": b.tenant, "role": b.role} for b in bindings],
        }

    async def set_password(self, username: str, body: object, actor: str, *, own: bool) -> None:
        """Replace a password (as a new argon2id hash). Changing your own needs the
        current one, so a stolen token alone cannot take the account over."""
        data = require_object(body)
        reject_unknown(data, {"password", "current_password"} if own else {"password"})
        check_name("user", username)
        password = check_password_input(data.get("password"))  # type: ignore[arg-type]
        if own:
            await self._check_current(username, data.get("current_password"))
        password_hash = await asyncio.to_thread(hash_password, password)
        await propose(self._proposer, SetPassword(username, password_hash, actor, self._now()))

    async def _check_current(self, username: str, current: object) -> None:
        if not isinstance(current, str) or not current:
            raise InvalidInput(
                "current_password is needed to change your own password", field="current_password"
            )
        user = ident.read_user(self._view, username)
        stored = user.password_hash if user is not None else None
        if not await asyncio.to_thread(verify_password, stored, current):
            raise Forbidden("current_password does not match")

    async def delete_user(self, username: str, actor: str) -> Mapping[str, Any]:
        check_name("user", username)
        return await propose(self._proposer, DeleteUser(username, actor, self._now()))

    # --- bindings ------------------------------------------------------------------------

    async def bind(self, tenant: str, body: object, actor: str) -> dict[str, Any]:
        data = require_object(body)
        reject_unknown(data, {"user", "role"})
        user = check_name("user", _text(data, "user"))
        role = ident.check_role(data.get("role"))
        check_name("tenant", tenant)
        result = await propose(self._proposer, BindRole(tenant, user, role, actor, self._now()))
        return dict(result["binding"])

    def bindings(self, tenant: str) -> dict[str, Any]:
        self.get_tenant(tenant)
        return {"items": [b.to_json() for b in ident.bindings_in(self._view, tenant)]}

    def binding(self, tenant: str, user: str) -> dict[str, Any]:
        found = ident.read_binding(
            self._view, check_name("tenant", tenant), check_name("user", user)
        )
        if found is None:
            raise BindingNotFound(
                f"{user} holds no role in tenant {tenant}", tenant=tenant, user=user
            )
        return found.to_json()

    async def unbind(self, tenant: str, user: str, actor: str) -> Mapping[str, Any]:
        check_name("tenant", tenant)
        check_name("user", user)
        return await propose(self._proposer, UnbindRole(tenant, user, actor, self._now()))

    # --- API keys ------------------------------------------------------------------------

    async def create_api_key(self, tenant: str, body: object, actor: str) -> dict[str, Any]:
        """Return the key's public record plus `key`: the only time the secret is shown."""
        data = require_object(body)
        reject_unknown(data, {"name", "role", "expires_at"})
        name = check_name("name", _text(data, "name"))
        role = ident.check_role(data.get("role"))
        expires_at = data.get("expires_at")
        if expires_at is not None:
            expires_at = ident.parse_time("expires_at", expires_at).isoformat()
        check_name("tenant", tenant)
        key_id, key = generate_api_key()
        secret = key[len(PREFIX) + len(key_id) + 1 :]
        command = CreateApiKey(
            key_id, tenant, name, role, hash_secret(secret), expires_at, actor, self._now()
        )
        result = await propose(self._proposer, command)
        return {**result["api_key"], "key": key}

    def api_keys(self, tenant: str) -> dict[str, Any]:
        self.get_tenant(tenant)
        return {"items": [k.public() for k in ident.api_keys_in(self._view, tenant)]}

    def api_key(self, tenant: str, key_id: str) -> dict[str, Any]:
        check_name("tenant", tenant)
        found = ident.read_api_key(self._view, key_id) if ID_RE.fullmatch(key_id) else None
        if found is None or found.tenant != tenant:  # never echo the id: it may be a key
            raise ApiKeyNotFound(f"no such API key in tenant {tenant}")
        return found.public()

    async def revoke_api_key(self, tenant: str, key_id: str, actor: str) -> Mapping[str, Any]:
        check_name("tenant", tenant)
        if ID_RE.fullmatch(key_id) is None:  # never echo it: it may be a whole key
            raise ApiKeyNotFound(f"no such API key in tenant {tenant}")
        command = RevokeApiKey(key_id, tenant, actor, self._now())
        return await propose(self._proposer, command)

    # --- audit ---------------------------------------------------------------------------

    def audit_retention(self) -> dict[str, Any]:
        return read_audit_retention(self._view).to_json()

    async def set_audit_retention(self, body: object, actor: str) -> dict[str, Any]:
        """Replace the audit log's retention; a limit left out (or null) is lifted."""
        keep_last, keep_days = _retention_body(body)
        command = SetAuditRetention(keep_last, keep_days, actor, self._now())
        result = await propose(self._proposer, command)
        return dict(result["retention"])

    def audit(self, query: Mapping[str, str]) -> dict[str, Any]:
        """One page of the audit log: `{items, next}`; pass `next` as `after` to continue."""
        reject_unknown(query, {"tenant", "actor", "since", "after", "limit"}, "query.")
        since = query.get("since")
        page = list_audit(
            self._view,
            tenant=query.get("tenant") or None,
            actor=query.get("actor") or None,
            since=ident.parse_time("since", since) if since else None,
            after_seq=_int(query.get("after"), "after", 0, None),
            limit=_int(query.get("limit"), "limit", 1, MAX_PAGE) or DEFAULT_AUDIT_PAGE,
        )
        return {"items": [r.to_json() for r in page.records], "next": page.next_after_seq}


def _retention_body(body: object) -> tuple[int | None, int | None]:
    data = require_object(body)
    reject_unknown(data, {"keep_last", "keep_days"})
    return (
        check_limit("keep_last", data.get("keep_last"), MAX_KEEP_LAST),
        check_limit("keep_days", data.get("keep_days"), MAX_KEEP_DAYS),
    )


def _int(raw: str | None, field: str, low: int, high: int | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput(f"{field} must be a non-negative integer", field=field)
    value = int(raw)
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(f"{field} must be {bound}", field=field)
    return value
