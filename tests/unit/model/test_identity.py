"""Unit tests for the identity commands (tenants, users, bindings, API keys, bootstrap)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from conflux_node.model import keys
from conflux_node.model.apply import Effects, apply
from conflux_node.model.audit import audit_record
from conflux_node.model.commands import (
    BindRole,
    Command,
    CreateUser,
    DeleteConfig,
    DeleteTenant,
    DeleteUser,
    RecordDenial,
    RevokeApiKey,
    SetPassword,
    UnbindRole,
)
from conflux_node.model.errors import (
    ApiKeyNotFound,
    BindingNotFound,
    Conflict,
    ConfluxError,
    InvalidInput,
    InvalidName,
    TenantNotFound,
    UserNotFound,
)
from conflux_node.model.identity import (
    ROLES,
    api_keys_in,
    bindings_in,
    bindings_of,
    identity_rev,
    list_tenants,
    list_users,
    read_api_key,
    read_binding,
    read_jwt_key,
    read_tenant,
    read_user,
    tenant_exists,
)
from conflux_node.model.names import Coords
from conflux_node.model.view import read_config
from tests.unit.model.support import (
    ADMIN_HASH,
    ALICE_HASH,
    JWT_KEY,
    NEW_HASH,
    SECRET_HASH,
    T0,
    T1,
    T2,
    C,
    Harness,
    api_key,
    bind,
    bootstrap,
    put_config,
    tenant,
    user,
)


@pytest.fixture
def h() -> Harness:
    return Harness()


def own_writes(effects: Effects) -> list[bytes]:
    """Keys the command wrote, without its audit record and the identity stamp."""
    skip = (keys.AUDIT_SEQ, keys.IDENTITY_REV)
    return [k for k, _ in effects.writes if not k.startswith(keys.AUDIT_PREFIX) and k not in skip]


def rejected(h: Harness, command: Command, error: type[ConfluxError]) -> ConfluxError:
    """Run `command`, expect `error`, and check that only the audit record was written."""
    before = identity_rev(h.store)
    effects = h.run(command)
    assert isinstance(effects.result, error), effects.result
    assert own_writes(effects) == []
    assert effects.events == ()
    assert identity_rev(h.store) == before
    return effects.result


# --- tenants -------------------------------------------------------------------------


def test_create_tenant(h: Harness) -> None:
    effects = h.run(tenant(actor="root", now=T1))
    assert effects.ok
    assert effects.result == {
        "created": True,
        "tenant": {"name": "acme", "created_at": T1, "created_by": "root"},
    }
    assert effects.events == ()
    stored = read_tenant(h.store, "acme")
    assert stored is not None
    assert (stored.name, stored.created_at, stored.created_by) == ("acme", T1, "root")
    assert tenant_exists(h.store, "acme")
    assert not tenant_exists(h.store, "acm")
    assert [t.name for t in list_tenants(h.store)] == ["acme"]


def test_create_tenant_twice_is_conflict(h: Harness) -> None:
    h.run(tenant())
    error = rejected(h, tenant(now=T1), Conflict)
    assert error.details == {"tenant": "acme"}
    stored = read_tenant(h.store, "acme")
    assert stored is not None
    assert stored.created_at == T0


@pytest.mark.parametrize("name", ["Acme", "a/b", "", "-x", "x" * 64])
def test_create_tenant_checks_the_name(h: Harness, name: str) -> None:
    error = rejected(h, tenant(name), InvalidName)
    assert error.details["field"] == "tenant"
    assert list(h.store.scan(keys.TENANTS_PREFIX)) == []


def test_delete_tenant_takes_its_grants_along(h: Harness) -> None:
    for command in (tenant("acme"), tenant("other"), user("alice"), user("bob")):
        h.run(command)
    h.run(bind("acme", "alice"))
    h.run(bind("acme", "bob", "viewer"))
    h.run(bind("other", "alice"))
    h.run(api_key("k1", "acme"))
    h.run(api_key("k2", "other"))

    effects = h.run(DeleteTenant("acme", "root", T1))
    assert effects.result == {"deleted": True, "removed_bindings": 2, "removed_api_keys": 1}
    assert not tenant_exists(h.store, "acme")
    assert bindings_in(h.store, "acme") == []
    assert read_api_key(h.store, "k1") is None
    # The other tenant keeps everything; users survive their tenant.
    assert [b.user for b in bindings_in(h.store, "other")] == ["alice"]
    assert read_api_key(h.store, "k2") is not None
    assert [u.username for u in list_users(h.store)] == ["alice", "bob"]
    # A new tenant of the same name starts with no grants.
    h.run(tenant("acme", now=T2))
    assert bindings_in(h.store, "acme") == []
    assert api_keys_in(h.store, "acme") == []


def test_delete_tenant_refused_while_configs_exist(h: Harness) -> None:
    h.run(tenant("acme"))
    h.run(tenant("acme2"))
    h.run(put_config(Coords("acme2", "a", "b", "c")))  # shares the text prefix only
    assert h.run(DeleteTenant("acme", "root", T1)).ok
    h.run(tenant("acme"))
    h.run(put_config(C))
    error = rejected(h, DeleteTenant("acme", "root", T1), Conflict)
    assert error.details == {"tenant": "acme"}
    assert tenant_exists(h.store, "acme")
    h.run(DeleteConfig(C, "alice", T1))
    assert h.run(DeleteTenant("acme", "root", T2)).ok


def test_delete_missing_tenant(h: Harness) -> None:
    error = rejected(h, DeleteTenant("ghost", "root", T0), TenantNotFound)
    assert error.code == "tenant_not_found"
    assert error.details == {"tenant": "ghost"}


def test_config_under_missing_tenant_is_rejected(h: Harness) -> None:
    before = h.dump()
    effects = h.run(put_config(C))
    assert isinstance(effects.result, TenantNotFound)
    assert effects.result.code == "tenant_not_found"
    assert effects.result.message == "tenant acme does not exist"
    assert effects.result.details == {"tenant": "acme"}
    assert [k for k, _ in effects.writes] == [keys.audit_key(1), keys.AUDIT_SEQ]
    assert effects.events == ()
    assert read_config(h.store, C) is None
    record = audit_record(h.store, 1)
    assert record is not None
    assert record.outcome == "rejected:tenant_not_found"
    assert [k for k, _ in h.dump() if k not in dict(before)] == [
        keys.audit_key(1),
        b"m/applied_index",
        keys.AUDIT_SEQ,
    ]


def test_config_under_created_tenant_is_accepted(h: Harness) -> None:
    assert h.run(tenant(C.tenant)).ok
    effects = h.run(put_config(C))
    assert effects.ok
    assert effects.result["created"] is True
    assert read_config(h.store, C) is not None


# --- users ---------------------------------------------------------------------------


def test_create_user(h: Harness) -> None:
    effects = h.run(user("alice", admin=True, actor="root", now=T1))
    assert effects.result == {
        "created": True,
        "user": {
            "username": "alice",
            "system_admin": True,
            "created_at": T1,
            "created_by": "root",
            "password_changed_at": T1,
        },
    }
    stored = read_user(h.store, "alice")
    assert stored is not None
    assert stored.password_hash == ALICE_HASH
    assert stored.system_admin is True
    assert "password_hash" not in stored.public()


def test_create_user_twice_is_conflict(h: Harness) -> None:
    h.run(user("alice"))
    rejected(h, CreateUser("alice", NEW_HASH, True, "root", T1), Conflict)
    stored = read_user(h.store, "alice")
    assert stored is not None
    assert (stored.password_hash, stored.system_admin) == (ALICE_HASH, False)


def test_create_user_checks_the_username(h: Harness) -> None:
    error = rejected(h, CreateUser("Alice@x", ALICE_HASH, False, "root", T0), InvalidName)
    assert error.details["field"] == "username"


@pytest.mark.parametrize("password_hash", ["hunter2", "", "$argon2i$v=19$x", "$2b$12$bcrypt"])
def test_create_user_refuses_anything_but_an_argon2id_hash(h: Harness, password_hash: str) -> None:
    error = rejected(h, CreateUser("alice", password_hash, False, "root", T0), InvalidInput)
    assert error.details == {"field": "password_hash"}
    if password_hash:
        assert password_hash not in error.message
    assert read_user(h.store, "alice") is None


def test_delete_user_removes_its_bindings_everywhere(h: Harness) -> None:
    for command in (tenant("acme"), tenant("beta"), user("bob"), user("bobby")):
        h.run(command)
    h.run(bind("acme", "bob"))
    h.run(bind("beta", "bob", "viewer"))
    h.run(bind("acme", "bobby"))
    assert [b.tenant for b in bindings_of(h.store, "bob")] == ["acme", "beta"]

    effects = h.run(DeleteUser("bob", "root", T1))
    assert effects.result == {"deleted": True, "removed_bindings": 2}
    assert read_user(h.store, "bob") is None
    assert bindings_of(h.store, "bob") == []
    # A user whose name merely starts the same keeps its binding.
    assert [(b.tenant, b.user) for b in bindings_of(h.store, "bobby")] == [("acme", "bobby")]


def test_delete_missing_user(h: Harness) -> None:
    error = rejected(h, DeleteUser("ghost", "root", T0), UserNotFound)
    assert error.code == "user_not_found"


def test_last_system_admin_cannot_be_deleted(h: Harness) -> None:
    h.run(bootstrap("admin"))
    rejected(h, DeleteUser("admin", "admin", T1), Conflict)
    assert read_user(h.store, "admin") is not None
    h.run(user("second", admin=True))
    assert h.run(DeleteUser("admin", "second", T1)).ok
    rejected(h, DeleteUser("second", "second", T2), Conflict)


def test_set_password(h: Harness) -> None:
    h.run(user("alice", now=T0))
    effects = h.run(SetPassword("alice", NEW_HASH, "alice", T2))
    assert effects.result == {"updated": True, "password_changed_at": T2}
    stored = read_user(h.store, "alice")
    assert stored is not None
    assert stored.password_hash == NEW_HASH
    assert (stored.created_at, stored.password_changed_at) == (T0, T2)


def test_set_password_rejections(h: Harness) -> None:
    rejected(h, SetPassword("ghost", NEW_HASH, "root", T1), UserNotFound)
    h.run(user("alice"))
    rejected(h, SetPassword("alice", "plain-text", "root", T1), InvalidInput)
    stored = read_user(h.store, "alice")
    assert stored is not None
    assert stored.password_hash == ALICE_HASH


# --- bindings ------------------------------------------------------------------------


def test_bind_role(h: Harness) -> None:
    h.run(tenant("acme"))
    h.run(user("alice"))
    effects = h.run(BindRole("acme", "alice", "releaser", "root", T1))
    assert effects.result == {
        "created": True,
        "binding": {
            "tenant": "acme",
            "user": "alice",
            "role": "releaser",
            "created_at": T1,
            "created_by": "root",
        },
    }
    binding = read_binding(h.store, "acme", "alice")
    assert binding is not None
    assert binding.role == "releaser"
    assert bindings_in(h.store, "acme") == [binding]
    assert bindings_of(h.store, "alice") == [binding]


@pytest.mark.parametrize("role", ROLES)
def test_every_builtin_role_binds(h: Harness, role: str) -> None:
    h.run(tenant())
    h.run(user())
    assert h.run(bind(role=role)).ok


def test_bind_role_rejections(h: Harness) -> None:
    error = rejected(h, bind(role="owner"), InvalidInput)
    assert error.details == {"field": "role", "allowed": list(ROLES)}
    rejected(h, bind("ghost"), TenantNotFound)
    h.run(tenant())
    error = rejected(h, bind(name="ghost"), UserNotFound)
    assert error.details == {"user": "ghost"}
    h.run(user())
    h.run(bind(role="viewer"))
    for role in ("viewer", "editor"):
        error = rejected(h, bind(role=role), Conflict)
        assert error.details == {"tenant": "acme", "user": "alice", "role": "viewer"}


def test_unbind_role(h: Harness) -> None:
    h.run(tenant())
    h.run(user())
    h.run(bind(role="editor"))
    effects = h.run(UnbindRole("acme", "alice", "root", T1))
    assert effects.result == {"deleted": True, "role": "editor"}
    assert read_binding(h.store, "acme", "alice") is None
    error = rejected(h, UnbindRole("acme", "alice", "root", T1), BindingNotFound)
    assert error.code == "binding_not_found"
    assert h.run(bind(role="viewer")).ok  # and a new role can be bound after


# --- API keys ------------------------------------------------------------------------


def test_create_api_key(h: Harness) -> None:
    h.run(tenant())
    effects = h.run(api_key("k1", role="client", expires_at=T2, now=T1))
    public = {
        "id": "k1",
        "tenant": "acme",
        "name": "svc",
        "role": "client",
        "created_at": T1,
        "created_by": "root",
        "expires_at": T2,
        "revoked_at": None,
    }
    assert effects.result == {"created": True, "api_key": public}
    stored = read_api_key(h.store, "k1")
    assert stored is not None
    assert stored.secret_hash == SECRET_HASH
    assert stored.public() == public
    assert api_keys_in(h.store, "acme") == [stored]


def test_create_api_key_rejections(h: Harness) -> None:
    rejected(h, api_key(tenant="ghost"), TenantNotFound)
    h.run(tenant())
    error = rejected(h, api_key(role="admin"), InvalidInput)
    assert error.details["field"] == "role"
    error = rejected(h, api_key(expires_at=T0, now=T1), InvalidInput)
    assert error.details == {"field": "expires_at"}
    error = rejected(h, api_key(expires_at="2030-01-01T00:00:00", now=T1), InvalidInput)
    assert error.details == {"field": "expires_at"}
    rejected(h, api_key("K/1"), InvalidName)
    h.run(api_key("k1", name="svc"))
    error = rejected(h, api_key("k1", name="other"), Conflict)
    assert error.details == {"field": "id"}
    error = rejected(h, api_key("k2", name="svc"), Conflict)
    assert error.details == {"field": "name"}


def test_api_key_name_is_free_again_once_revoked_or_expired(h: Harness) -> None:
    h.run(tenant())
    h.run(api_key("k1", name="svc"))
    h.run(RevokeApiKey("k1", "acme", "root", T1))
    assert h.run(api_key("k2", name="svc", expires_at=T2, now=T1)).ok
    assert h.run(api_key("k3", name="svc", now=T2)).ok  # k2 expired at T2


def test_revoke_api_key(h: Harness) -> None:
    h.run(tenant())
    h.run(api_key("k1"))
    effects = h.run(RevokeApiKey("k1", "acme", "root", T1))
    assert effects.result == {"revoked": True, "revoked_at": T1}
    stored = read_api_key(h.store, "k1")
    assert stored is not None
    assert stored.revoked_at == T1
    assert not stored.usable_at(datetime(2026, 1, 1, tzinfo=UTC))
    # Revoking again changes nothing and keeps the first time.
    again = h.run(RevokeApiKey("k1", "acme", "root", T2))
    assert again.result == {"revoked": False, "revoked_at": T1}
    assert own_writes(again) == []


def test_revoke_api_key_of_another_tenant_looks_missing(h: Harness) -> None:
    h.run(tenant("acme"))
    h.run(tenant("evil"))
    h.run(api_key("k1", "acme"))
    error = rejected(h, RevokeApiKey("k1", "evil", "mallory", T1), ApiKeyNotFound)
    assert error.code == "apikey_not_found"
    missing = rejected(h, RevokeApiKey("k9", "evil", "mallory", T1), ApiKeyNotFound)
    # Same shape as a key that does not exist at all: nothing to tell them apart.
    assert (error.message, error.details) == (
        missing.message.replace("k9", "k1"),
        {"id": "k1"},
    )
    stored = read_api_key(h.store, "k1")
    assert stored is not None
    assert stored.revoked_at is None


def test_api_key_usable_until_expiry(h: Harness) -> None:
    h.run(tenant())
    h.run(api_key("k1", expires_at=T1))
    h.run(api_key("k2", name="forever"))
    k1, k2 = read_api_key(h.store, "k1"), read_api_key(h.store, "k2")
    assert k1 is not None and k2 is not None
    before, at = datetime(2026, 1, 1, 12, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    assert k1.usable_at(before)
    assert not k1.usable_at(at)
    assert k2.usable_at(datetime(2100, 1, 1, tzinfo=UTC))


# --- bootstrap -----------------------------------------------------------------------


def test_bootstrap_creates_the_admin_and_the_signing_key(h: Harness) -> None:
    effects = h.run(bootstrap("admin", now=T1))
    assert effects.result == {"bootstrapped": True, "username": "admin"}
    admin = read_user(h.store, "admin")
    assert admin is not None
    assert admin.system_admin is True
    assert (admin.password_hash, admin.created_by, admin.created_at) == (ADMIN_HASH, "system", T1)
    assert read_jwt_key(h.store) == JWT_KEY


def test_bootstrap_is_idempotent(h: Harness) -> None:
    h.run(bootstrap("admin"))
    before = identity_rev(h.store)
    other_key = "another-signing-key-abcdefghijklmnopqrstuvwxyz"
    effects = h.run(bootstrap("root", jwt_key=other_key, now=T2))
    assert effects.ok
    assert effects.result == {"bootstrapped": False}
    assert own_writes(effects) == []
    assert read_user(h.store, "root") is None
    assert read_jwt_key(h.store) == JWT_KEY
    assert identity_rev(h.store) == before


def test_bootstrap_is_a_no_op_once_any_user_exists(h: Harness) -> None:
    h.run(user("alice"))
    assert h.run(bootstrap()).result == {"bootstrapped": False}
    assert read_user(h.store, "admin") is None
    assert read_jwt_key(h.store) is None


def test_bootstrap_never_replaces_a_signing_key(h: Harness) -> None:
    h.store.write([(keys.JWT_KEY, json.dumps({"key": "k" * 40}).encode())], 1)
    assert h.run(bootstrap()).result == {"bootstrapped": True, "username": "admin"}
    assert read_jwt_key(h.store) == "k" * 40


def test_bootstrap_rejections(h: Harness) -> None:
    error = rejected(h, bootstrap(jwt_key="short"), InvalidInput)
    assert error.details == {"field": "jwt_key"}
    error = rejected(h, bootstrap("Admin!"), InvalidName)
    assert error.details["field"] == "admin_username"
    assert list_users(h.store) == []


# --- identity_rev --------------------------------------------------------------------


def test_identity_rev_counts_identity_writes_only(h: Harness) -> None:
    assert identity_rev(h.store) == 0
    h.run(tenant())
    h.run(user())
    assert identity_rev(h.store) == 2
    h.run(put_config(C))
    h.run(tenant())  # rejected
    h.run(RecordDenial("mallory", "GET /x", "x", None, T0))
    assert identity_rev(h.store) == 2
    h.run(bind())
    assert identity_rev(h.store) == 3
    effects = apply(h.store, UnbindRole("acme", "alice", "root", T1))
    assert dict(effects.writes)[keys.IDENTITY_REV] == b"4"
