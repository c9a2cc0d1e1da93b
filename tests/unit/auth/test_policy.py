"""casbin RBAC with tenants: the full role matrix, isolation, and rebuilds."""

from __future__ import annotations

import threading
from itertools import product

import pytest

from conflux_node.auth import roles
from conflux_node.auth.policy import (
    PolicyData,
    PolicySource,
    apikey_subject,
    build_enforcer,
    policy_rules,
    user_subject,
)

KEY_ID = "abcdefghijkl"
ALL_ACTIONS = sorted(roles.ACTIONS)
TENANT_ROLES = sorted(roles.TENANT_ROLES)


def _user(role: str) -> str:
    return f"{role}-user"


# One user per role in tenant "a", one API key per role in tenant "a", one system admin.
BINDINGS = [(_user(role), "a", role) for role in TENANT_ROLES]
KEYS = [(f"{KEY_ID[:-1]}{chr(ord('a') + i)}", "a", role) for i, role in enumerate(TENANT_ROLES)]
ENFORCER = build_enforcer(BINDINGS, ["root"], KEYS)


def test_the_table_is_what_the_design_says() -> None:
    """Hand-written, so an accidental change to the table fails here."""
    read = {"config.read", "fetch", "watch"}
    assert {
        "tenant-admin": {
            "config.read",
            "config.write",
            "version.create",
            "release.write",
            "fetch",
            "watch",
            "binding.admin",
            "apikey.admin",
            "audit.read",
        },
        "editor": read | {"config.write", "version.create"},
        "releaser": read | {"release.write"},
        "viewer": read,
        "client": {"fetch", "watch"},
    } == roles.ROLE_PERMISSIONS
    assert {"tenant.admin", "user.admin", "audit.admin"} == roles.SYSTEM_ACTIONS
    assert roles.permissions_of(roles.SYSTEM_ADMIN_ROLE) == roles.ACTIONS


@pytest.mark.parametrize(("role", "action"), list(product(TENANT_ROLES, ALL_ACTIONS)))
def test_user_matrix(role: str, action: str) -> None:
    subject = user_subject(_user(role))
    expected = action in roles.ROLE_PERMISSIONS[role]
    assert ENFORCER.allowed(subject, "a", action) is expected
    # Never in another tenant, an unknown one, or system-wide.
    assert ENFORCER.allowed(subject, "b", action) is False
    assert ENFORCER.allowed(subject, "nope", action) is False
    assert ENFORCER.allowed(subject, None, action) is False


@pytest.mark.parametrize(("index", "action"), list(product(range(len(KEYS)), ALL_ACTIONS)))
def test_apikey_matrix(index: int, action: str) -> None:
    key_id, tenant, role = KEYS[index]
    subject = apikey_subject(key_id)
    assert ENFORCER.allowed(subject, tenant, action) is (action in roles.ROLE_PERMISSIONS[role])
    assert ENFORCER.allowed(subject, "b", action) is False
    assert ENFORCER.allowed(subject, None, action) is False


@pytest.mark.parametrize("action", ALL_ACTIONS)
def test_system_admin_may_do_everything_everywhere(action: str) -> None:
    for tenant in ("a", "b", "never-seen", None):
        assert ENFORCER.allowed(user_subject("root"), tenant, action) is True


def test_viewer_cannot_write() -> None:
    viewer = user_subject("viewer-user")
    assert ENFORCER.allowed(viewer, "a", "config.read")
    for action in ("config.write", "version.create", "release.write", "binding.admin"):
        assert not ENFORCER.allowed(viewer, "a", action)


def test_tenant_admin_of_a_cannot_touch_b() -> None:
    enforcer = build_enforcer([("ann", "a", "tenant-admin"), ("bo", "b", "viewer")], [])
    ann = user_subject("ann")
    assert enforcer.allowed(ann, "a", "config.write")
    assert enforcer.allowed(ann, "a", "binding.admin")
    for action in ("config.read", "config.write", "fetch", "watch", "binding.admin"):
        assert not enforcer.allowed(ann, "b", action)
    assert not enforcer.allowed(ann, None, "tenant.admin")
    assert not enforcer.allowed(ann, "a", "user.admin")


def test_client_key_only_fetches_and_watches() -> None:
    enforcer = build_enforcer([], [], [(KEY_ID, "a", "client")])
    key = apikey_subject(KEY_ID)
    assert enforcer.allowed(key, "a", "fetch") and enforcer.allowed(key, "a", "watch")
    assert not enforcer.allowed(key, "a", "config.read")
    assert not enforcer.allowed(key, "b", "fetch")


def test_subjects_of_different_kinds_do_not_collide() -> None:
    # A user named like a key id gets nothing the key has, and the reverse.
    enforcer = build_enforcer([], [], [(KEY_ID, "a", "editor")])
    assert not enforcer.allowed(user_subject(KEY_ID), "a", "config.write")
    enforcer = build_enforcer([(KEY_ID, "a", "editor")], [])
    assert not enforcer.allowed(apikey_subject(KEY_ID), "a", "config.write")
    # A role name is not a subject.
    assert not enforcer.allowed("role:editor", "a", "config.write")


def test_multiple_bindings_combine_per_tenant() -> None:
    enforcer = build_enforcer([("eve", "a", "editor"), ("eve", "a", "releaser")], [])
    eve = user_subject("eve")
    assert enforcer.allowed(eve, "a", "config.write") and enforcer.allowed(
        eve, "a", "release.write"
    )
    assert not enforcer.allowed(eve, "a", "binding.admin")


def test_star_is_not_a_back_door() -> None:
    enforcer = build_enforcer([("ann", "a", "tenant-admin"), ("mal", "*", "tenant-admin")], [])
    assert not enforcer.allowed(user_subject("ann"), "*", "config.read")
    assert not enforcer.allowed(user_subject("mal"), "a", "config.read")
    assert not enforcer.allowed(user_subject("mal"), "*", "config.read")


def test_invalid_entries_grant_nothing_and_are_reported() -> None:
    bad = [("x", "Bad Tenant", "viewer"), ("y", "a", "owner"), ("", "a", "viewer")]
    rules = policy_rules(
        [*bad, ("ok", "a", "viewer")], ["", "root"], [("NOT-AN-ID", "a", "client")]
    )
    assert set(rules.rejected) == {
        *bad,
        ("NOT-AN-ID", "a", "client"),
        ("", "*", "system-admin"),
    }
    enforcer = build_enforcer([*bad, ("ok", "a", "viewer")], ["root"])
    assert enforcer.allowed(user_subject("ok"), "a", "config.read")
    assert not enforcer.allowed(user_subject("y"), "a", "config.read")
    assert enforcer.allowed(user_subject("root"), "a", "config.write")


def test_unknown_action_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown action"):
        ENFORCER.allowed(user_subject("root"), "a", "config.delete-everything")


def test_empty_policy_denies() -> None:
    enforcer = build_enforcer([], [])
    assert not enforcer.allowed(user_subject("anyone"), "a", "config.read")


class _Loader:
    def __init__(self) -> None:
        self.data = PolicyData()
        self.calls = 0

    def __call__(self) -> PolicyData:
        self.calls += 1
        return self.data


def test_invalidate_picks_up_new_bindings() -> None:
    loader = _Loader()
    source = PolicySource(loader)
    bob = user_subject("bob")
    assert not source.allowed(bob, "a", "config.write")
    loader.data = PolicyData(bindings=(("bob", "a", "editor"),))
    assert not source.allowed(bob, "a", "config.write"), "cached until invalidated"
    source.invalidate()
    assert source.allowed(bob, "a", "config.write")
    loader.data = PolicyData()
    source.invalidate()
    assert not source.allowed(bob, "a", "config.write"), "a removed binding takes effect"


def test_rebuild_is_lazy_and_once_per_burst() -> None:
    loader = _Loader()
    source = PolicySource(loader)
    assert loader.calls == 0
    source.allowed(user_subject("x"), "a", "fetch")
    source.allowed(user_subject("x"), "a", "fetch")
    assert loader.calls == 1
    for _ in range(10):
        source.invalidate()
    assert loader.calls == 1
    source.allowed(user_subject("x"), "a", "fetch")
    source.allowed(user_subject("x"), "a", "fetch")
    assert loader.calls == 2


def test_invalidation_during_a_rebuild_is_not_lost() -> None:
    source: PolicySource
    states = [PolicyData(), PolicyData(bindings=(("bob", "a", "viewer"),))]
    calls: list[int] = []

    def loader() -> PolicyData:
        calls.append(1)
        if len(calls) == 1:
            # A command is applied (and invalidates) while this stale read is under way.
            source.invalidate()
            return states[0]
        return states[1]

    source = PolicySource(loader)
    assert not source.allowed(user_subject("bob"), "a", "config.read")
    assert source.allowed(user_subject("bob"), "a", "config.read")
    assert len(calls) == 2


def test_concurrent_questions_and_invalidations() -> None:
    loader = _Loader()
    loader.data = PolicyData(bindings=tuple((f"u{i}", "a", "viewer") for i in range(50)))
    source = PolicySource(loader)
    errors: list[BaseException] = []

    def ask(worker: int) -> None:
        try:
            for i in range(200):
                subject = user_subject(f"u{(worker + i) % 50}")
                assert source.allowed(subject, "a", "config.read")
                assert not source.allowed(subject, "a", "config.write")
                assert not source.allowed(subject, f"t{i}", "config.read")
                if i % 50 == 0:
                    source.invalidate()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_questions_about_unknown_tenants_do_not_grow_memory() -> None:
    """casbin caches one role manager per domain it is asked about; requests name
    tenants, so asking about arbitrary ones must not reach casbin's cache.
    (Reads casbin's cache directly: there is no other way to observe it.)"""
    enforcer = build_enforcer([("bob", "a", "viewer")], ["root"])
    enforcer.allowed(user_subject("bob"), "a", "config.read")
    enforcer.allowed(user_subject("root"), "a", "config.read")
    cache = enforcer._casbin.get_role_manager().rm_map
    before = len(cache)
    for n in range(200):
        assert not enforcer.allowed(user_subject("bob"), f"tenant-{n}", "config.read")
        assert enforcer.allowed(user_subject("root"), f"tenant-{n}", "config.read")
        assert not enforcer.allowed(user_subject(f"ghost-{n}"), "a", "config.read")
    assert len(cache) == before
