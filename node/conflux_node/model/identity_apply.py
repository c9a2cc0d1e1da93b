"""Applying identity commands: tenants, users, bindings, API keys and the bootstrap.

Like the config commands, each is decided from the replicated state alone, so every
replica reaches the same answer. `validate` holds the checks that need no state; the
service may run it before proposing (to answer 400 early) and `apply` runs it again,
because the log must never turn a malformed command into state.

Every successful identity write also bumps `m/identity_rev`, so a node that caches
policies (casbin) can tell cheaply that they changed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from conflux_node.model import keys
from conflux_node.model.commands import (
    BindRole,
    Bootstrap,
    CreateApiKey,
    CreateTenant,
    CreateUser,
    DeleteTenant,
    DeleteUser,
    IdentityCommand,
    RecordDenial,
    RevokeApiKey,
    SetPassword,
    UnbindRole,
)
from conflux_node.model.effects import Effects, Write, reject
from conflux_node.model.errors import (
    ApiKeyNotFound,
    BindingNotFound,
    Conflict,
    ConfluxError,
    InvalidInput,
    TenantNotFound,
    UserNotFound,
)
from conflux_node.model.identity import (
    ApiKey,
    Binding,
    Tenant,
    User,
    api_keys_in,
    bindings_in,
    bindings_of,
    check_jwt_key,
    check_password_hash,
    check_role,
    check_secret_hash,
    has_users,
    identity_rev,
    list_users,
    parse_time,
    read_api_key,
    read_binding,
    read_tenant,
    read_user,
    tenant_exists,
)
from conflux_node.model.names import check_name
from conflux_node.model.view import StateView, dump

# The identity commands that change state (RecordDenial only leaves an audit record).
StateCommand = (
    CreateTenant
    | DeleteTenant
    | CreateUser
    | DeleteUser
    | SetPassword
    | BindRole
    | UnbindRole
    | CreateApiKey
    | RevokeApiKey
    | Bootstrap
)


def validate(cmd: IdentityCommand) -> None:
    """Raise the `InvalidInput` a malformed command deserves; return if it is fine."""
    now = parse_time("now", cmd.now)
    match cmd:
        case CreateTenant(name=name) | DeleteTenant(name=name):
            check_name("tenant", name)
        case CreateUser():
            check_name("username", cmd.username)
            check_password_hash("password_hash", cmd.password_hash)
            if not isinstance(cmd.system_admin, bool):
                raise InvalidInput("system_admin must be a boolean", field="system_admin")
        case DeleteUser():
            check_name("username", cmd.username)
        case SetPassword():
            check_name("username", cmd.username)
            check_password_hash("password_hash", cmd.password_hash)
        case BindRole():
            check_name("tenant", cmd.tenant)
            check_name("user", cmd.user)
            check_role(cmd.role)
        case UnbindRole():
            check_name("tenant", cmd.tenant)
            check_name("user", cmd.user)
        case CreateApiKey():
            _check_api_key(cmd, now)
        case RevokeApiKey():
            check_name("id", cmd.id)
            check_name("tenant", cmd.tenant)
        case Bootstrap():
            check_name("admin_username", cmd.admin_username)
            check_password_hash("admin_password_hash", cmd.admin_password_hash)
            check_jwt_key(cmd.jwt_key)
        case RecordDenial():
            if not isinstance(cmd.details, dict):
                raise InvalidInput("details must be an object", field="details")


def _check_api_key(cmd: CreateApiKey, now: datetime) -> None:
    check_name("id", cmd.id)
    check_name("tenant", cmd.tenant)
    check_name("name", cmd.name)
    check_role(cmd.role)
    check_secret_hash(cmd.secret_hash)
    if cmd.expires_at is not None and parse_time("expires_at", cmd.expires_at) <= now:
        raise InvalidInput("expires_at must be in the future", field="expires_at")


def apply_identity(view: StateView, cmd: IdentityCommand) -> Effects:
    try:
        validate(cmd)
    except ConfluxError as error:
        return reject(error)
    if isinstance(cmd, RecordDenial):
        return Effects()  # the audit record written around every command is all it needs
    effects = _dispatch(view, cmd)
    if effects.ok and effects.writes:
        bump: Write = (keys.IDENTITY_REV, str(identity_rev(view) + 1).encode())
        effects = replace(effects, writes=(*effects.writes, bump))
    return effects


def _dispatch(view: StateView, cmd: StateCommand) -> Effects:
    match cmd:
        case CreateTenant():
            return _create_tenant(view, cmd)
        case DeleteTenant():
            return _delete_tenant(view, cmd)
        case CreateUser():
            return _create_user(view, cmd)
        case DeleteUser():
            return _delete_user(view, cmd)
        case SetPassword():
            return _set_password(view, cmd)
        case BindRole():
            return _bind_role(view, cmd)
        case UnbindRole():
            return _unbind_role(view, cmd)
        case CreateApiKey():
            return _create_api_key(view, cmd)
        case RevokeApiKey():
            return _revoke_api_key(view, cmd)
        case Bootstrap():
            return _bootstrap(view, cmd)


def _tenant_missing(name: str) -> TenantNotFound:
    return TenantNotFound(f"tenant {name} does not exist", tenant=name)


def _user_missing(name: str) -> UserNotFound:
    return UserNotFound(f"user {name} does not exist", user=name)


def _create_tenant(view: StateView, cmd: CreateTenant) -> Effects:
    if tenant_exists(view, cmd.name):
        return reject(Conflict(f"tenant {cmd.name} already exists", tenant=cmd.name))
    tenant = Tenant(cmd.name, cmd.now, cmd.actor)
    return Effects(
        writes=((keys.tenant_key(cmd.name), dump(tenant.to_json())),),
        result={"created": True, "tenant": tenant.to_json()},
    )


def _delete_tenant(view: StateView, cmd: DeleteTenant) -> Effects:
    if read_tenant(view, cmd.name) is None:
        return reject(_tenant_missing(cmd.name))
    if next(iter(view.scan(keys.tenant_configs_prefix(cmd.name))), None) is not None:
        return reject(
            Conflict(f"tenant {cmd.name} still has configs; delete them first", tenant=cmd.name)
        )
    # Grants go with the tenant: a later tenant of the same name starts with none.
    bindings = bindings_in(view, cmd.name)
    api_keys = api_keys_in(view, cmd.name)
    writes: list[Write] = [(keys.tenant_key(cmd.name), None)]
    writes.extend((keys.binding_key(b.tenant, b.user), None) for b in bindings)
    writes.extend((keys.api_key_key(k.id), None) for k in api_keys)
    return Effects(
        writes=tuple(writes),
        result={
            "deleted": True,
            "removed_bindings": len(bindings),
            "removed_api_keys": len(api_keys),
        },
    )


def _create_user(view: StateView, cmd: CreateUser) -> Effects:
    if read_user(view, cmd.username) is not None:
        return reject(Conflict(f"user {cmd.username} already exists", user=cmd.username))
    user = User(cmd.username, cmd.password_hash, cmd.system_admin, cmd.now, cmd.actor, cmd.now)
    return Effects(
        writes=((keys.user_key(cmd.username), dump(user.to_json())),),
        result={"created": True, "user": user.public()},
    )


def _delete_user(view: StateView, cmd: DeleteUser) -> Effects:
    user = read_user(view, cmd.username)
    if user is None:
        return reject(_user_missing(cmd.username))
    if user.system_admin and not any(
        u.system_admin and u.username != user.username for u in list_users(view)
    ):
        return reject(
            Conflict(
                f"user {cmd.username} is the last system admin and cannot be deleted",
                user=cmd.username,
            )
        )
    bindings = bindings_of(view, cmd.username)
    writes: list[Write] = [(keys.user_key(cmd.username), None)]
    writes.extend((keys.binding_key(b.tenant, b.user), None) for b in bindings)
    return Effects(
        writes=tuple(writes), result={"deleted": True, "removed_bindings": len(bindings)}
    )


def _set_password(view: StateView, cmd: SetPassword) -> Effects:
    user = read_user(view, cmd.username)
    if user is None:
        return reject(_user_missing(cmd.username))
    changed = replace(user, password_hash=cmd.password_hash, password_changed_at=cmd.now)
    return Effects(
        writes=((keys.user_key(cmd.username), dump(changed.to_json())),),
        result={"updated": True, "password_changed_at": cmd.now},
    )


def _bind_role(view: StateView, cmd: BindRole) -> Effects:
    if not tenant_exists(view, cmd.tenant):
        return reject(_tenant_missing(cmd.tenant))
    if read_user(view, cmd.user) is None:
        return reject(_user_missing(cmd.user))
    existing = read_binding(view, cmd.tenant, cmd.user)
    if existing is not None:
        return reject(
            Conflict(
                f"user {cmd.user} already holds role {existing.role} in tenant {cmd.tenant}; "
                "unbind it first",
                tenant=cmd.tenant,
                user=cmd.user,
                role=existing.role,
            )
        )
    binding = Binding(cmd.tenant, cmd.user, cmd.role, cmd.now, cmd.actor)
    return Effects(
        writes=((keys.binding_key(cmd.tenant, cmd.user), dump(binding.to_json())),),
        result={"created": True, "binding": binding.to_json()},
    )


def _unbind_role(view: StateView, cmd: UnbindRole) -> Effects:
    existing = read_binding(view, cmd.tenant, cmd.user)
    if existing is None:
        return reject(
            BindingNotFound(
                f"user {cmd.user} holds no role in tenant {cmd.tenant}",
                tenant=cmd.tenant,
                user=cmd.user,
            )
        )
    return Effects(
        writes=((keys.binding_key(cmd.tenant, cmd.user), None),),
        result={"deleted": True, "role": existing.role},
    )


def _create_api_key(view: StateView, cmd: CreateApiKey) -> Effects:
    if not tenant_exists(view, cmd.tenant):
        return reject(_tenant_missing(cmd.tenant))
    if view.get(keys.api_key_key(cmd.id)) is not None:
        return reject(Conflict(f"API key id {cmd.id} is taken", field="id"))
    now = parse_time("now", cmd.now)
    if any(k.name == cmd.name and k.usable_at(now) for k in api_keys_in(view, cmd.tenant)):
        return reject(
            Conflict(
                f"tenant {cmd.tenant} already has a live API key named {cmd.name}",
                field="name",
            )
        )
    key = ApiKey(
        id=cmd.id,
        tenant=cmd.tenant,
        name=cmd.name,
        role=cmd.role,
        secret_hash=cmd.secret_hash,
        created_at=cmd.now,
        created_by=cmd.actor,
        expires_at=cmd.expires_at,
    )
    return Effects(
        writes=((keys.api_key_key(cmd.id), dump(key.to_json())),),
        result={"created": True, "api_key": key.public()},
    )


def _revoke_api_key(view: StateView, cmd: RevokeApiKey) -> Effects:
    key = read_api_key(view, cmd.id)
    if key is None or key.tenant != cmd.tenant:
        # Another tenant's key looks exactly like a missing one.
        return reject(
            ApiKeyNotFound(f"API key {cmd.id} does not exist in tenant {cmd.tenant}", id=cmd.id)
        )
    if key.revoked_at is not None:
        return Effects(result={"revoked": False, "revoked_at": key.revoked_at})
    revoked = replace(key, revoked_at=cmd.now)
    return Effects(
        writes=((keys.api_key_key(cmd.id), dump(revoked.to_json())),),
        result={"revoked": True, "revoked_at": cmd.now},
    )


def _bootstrap(view: StateView, cmd: Bootstrap) -> Effects:
    """First start only: every node proposes it at start, and all but the first are no-ops."""
    if has_users(view):
        return Effects(result={"bootstrapped": False})
    admin = User(cmd.admin_username, cmd.admin_password_hash, True, cmd.now, cmd.actor, cmd.now)
    writes: list[Write] = [(keys.user_key(admin.username), dump(admin.to_json()))]
    if view.get(keys.JWT_KEY) is None:  # set once, never replaced
        writes.append((keys.JWT_KEY, dump({"key": cmd.jwt_key, "created_at": cmd.now})))
    return Effects(writes=tuple(writes), result={"bootstrapped": True, "username": admin.username})
