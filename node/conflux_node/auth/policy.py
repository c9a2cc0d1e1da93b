"""Authorization: casbin RBAC with domains, where the domains are tenants.

The policy is not stored as casbin rules anywhere. It is derived, on every node, from
the replicated identity records (bindings, users' `system_admin` flag, live API keys)
and the role table in `roles`, so every node that has applied the same log enforces
the same policy and there is no second store to keep in sync. The casbin adapter is
read-only for the same reason: a rule added to one node's enforcer would make that
node disagree with the others, so the only way into the policy is a replicated
command, followed by `PolicySource.invalidate()`.

Subjects are typed strings, `user:<username>` and `apikey:<key id>`, so a user can
never be confused with a key or with a role (`role:<name>`). Role permissions are
domain-free rules (`p, role:editor, config.write`); a binding (`g, user:bob,
role:editor, tenant-a`) grants them in one tenant. System admins are bound in the
pseudo-domain `*`, which the matcher consults for every tenant. `*` can never be a
tenant: tenant names are DNS labels.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import casbin
from casbin.model import Model
from casbin.persist.adapter import Adapter

from conflux_node.auth import roles
from conflux_node.auth.apikeys import ID_RE
from conflux_node.model.names import MAX_NAME, NAME_RE

log = logging.getLogger(__name__)

MODEL_TEXT = """
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.act == p.act && (g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*"))
"""
"""The casbin model. It lives in code: it is part of the program, not configuration."""

SYSTEM_DOMAIN = "*"
USER_PREFIX = "user:"
APIKEY_PREFIX = "apikey:"
ROLE_PREFIX = "role:"

_CASBIN_LOCK = threading.Lock()
"""One lock for every casbin call in the process, across enforcer instances.

Each `enforce` parses the matcher with `ast.parse` (through simpleeval), and CPython
3.11 raises "AST constructor recursion depth mismatch" when threads do that at once,
even on different enforcers: the old policy still answering while a new one is built
is enough. An enforce call takes tens of microseconds, so one lock costs little.
"""

Binding = tuple[str, str, str]
"""(username or key id, tenant, role)."""


def user_subject(username: str) -> str:
    return USER_PREFIX + username


def apikey_subject(key_id: str) -> str:
    return APIKEY_PREFIX + key_id


def role_subject(role: str) -> str:
    return ROLE_PREFIX + role


@dataclass(frozen=True, slots=True)
class PolicyData:
    """Everything the policy is built from, as plain data read from replicated state."""

    bindings: tuple[Binding, ...] = ()
    system_admins: tuple[str, ...] = ()
    api_keys: tuple[Binding, ...] = ()
    """(key id, tenant, role) of each key that is not revoked."""


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """The casbin rules derived from `PolicyData`, and the entries that were refused."""

    permissions: tuple[tuple[str, str], ...]
    groupings: tuple[tuple[str, str, str], ...]
    rejected: tuple[Binding, ...]


def policy_rules(
    bindings: Iterable[Binding],
    system_admins: Iterable[str],
    api_keys: Iterable[Binding] = (),
) -> PolicyRules:
    """Translate plain identity data into casbin rules (pure).

    An entry with an unknown role, an invalid tenant name or an empty name grants
    nothing and is returned in `rejected` instead of failing the whole build: one bad
    record (say, a role this node's version does not know yet) must not lock every
    user, the system admins included, out of the cluster.
    """
    permissions = [
        (role_subject(role), action)
        for role, actions in sorted(roles.ROLE_PERMISSIONS.items())
        for action in sorted(actions)
    ]
    permissions += [
        (role_subject(roles.SYSTEM_ADMIN_ROLE), action)
        for action in sorted(roles.SYSTEM_ADMIN_PERMISSIONS)
    ]
    groupings: list[tuple[str, str, str]] = []
    rejected: list[Binding] = []
    for entry in bindings:
        username, tenant, role = entry
        if _valid_binding(username, tenant, role):
            groupings.append((user_subject(username), role_subject(role), tenant))
        else:
            rejected.append(entry)
    for entry in api_keys:
        key_id, tenant, role = entry
        if _valid_binding(key_id, tenant, role) and ID_RE.fullmatch(key_id):
            groupings.append((apikey_subject(key_id), role_subject(role), tenant))
        else:
            rejected.append(entry)
    for username in system_admins:
        if isinstance(username, str) and username:
            admin = role_subject(roles.SYSTEM_ADMIN_ROLE)
            groupings.append((user_subject(username), admin, SYSTEM_DOMAIN))
        else:
            rejected.append((str(username), SYSTEM_DOMAIN, roles.SYSTEM_ADMIN_ROLE))
    return PolicyRules(tuple(permissions), tuple(dict.fromkeys(groupings)), tuple(rejected))


def _valid_binding(name: object, tenant: object, role: object) -> bool:
    return (
        isinstance(name, str)
        and bool(name)
        and isinstance(tenant, str)
        and len(tenant) <= MAX_NAME
        and NAME_RE.fullmatch(tenant) is not None
        and role in roles.TENANT_ROLES
    )


class _ReadOnlyAdapter(Adapter):  # type: ignore[misc]  # casbin is untyped
    """Feeds casbin the derived rules; refuses every write (see the module doc)."""

    def __init__(self, rules: PolicyRules) -> None:
        self._rules = rules

    def load_policy(self, model: Any) -> None:
        # Appended directly: the rules are already unique, and casbin's add_policy
        # checks for duplicates by a linear scan, quadratic over thousands of bindings.
        model["p"]["p"].policy.extend(list(rule) for rule in self._rules.permissions)
        model["g"]["g"].policy.extend(list(rule) for rule in self._rules.groupings)

    def _refuse(self, *_: Any) -> None:
        raise PermissionError("the policy changes only through replicated commands")

    save_policy = add_policy = remove_policy = remove_filtered_policy = _refuse
    add_policies = remove_policies = _refuse


class PolicyEnforcer:
    """One built policy: answers `allowed` from a fixed set of rules, thread-safely.

    casbin's role manager fills lazy caches while it answers (one per domain and per
    subject it is asked about), so it is neither thread-safe nor bounded in memory when
    asked about arbitrary names. Both are handled here: `_CASBIN_LOCK` serialises the
    calls, and casbin is only ever asked about subjects and tenants the rules mention.
    An unknown subject is refused outright; an unknown tenant is asked as the system
    domain, where only system admins hold anything.
    """

    def __init__(self, rules: PolicyRules) -> None:
        with _CASBIN_LOCK:
            model = Model()
            model.load_model_from_text(MODEL_TEXT)
            self._casbin = casbin.Enforcer(model, _ReadOnlyAdapter(rules))
        self._subjects = frozenset(sub for sub, _, _ in rules.groupings)
        self._tenants = frozenset(dom for _, _, dom in rules.groupings) - {SYSTEM_DOMAIN}

    def allowed(self, subject: str, tenant: str | None, action: str) -> bool:
        """May `subject` perform `action` in `tenant` (None: a system-wide action)?

        Raises `ValueError` for an action that is not in `roles.ACTIONS`: that is a
        programming error in a route, and denying it quietly would hide it.
        """
        if action not in roles.ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        if subject not in self._subjects:
            return False
        domain = tenant if tenant in self._tenants else SYSTEM_DOMAIN
        with _CASBIN_LOCK:
            return bool(self._casbin.enforce(subject, domain, action))

    @property
    def tenants(self) -> frozenset[str]:
        """The tenants at least one subject is bound in."""
        return self._tenants


def build_enforcer(
    bindings: Iterable[Binding],
    system_admins: Iterable[str],
    api_keys: Iterable[Binding] = (),
) -> PolicyEnforcer:
    """Build the policy from plain data; rejected entries are logged and grant nothing."""
    rules = policy_rules(bindings, system_admins, api_keys)
    for name, tenant, role in rules.rejected:
        log.warning("policy: ignored invalid binding name=%r tenant=%r role=%r", name, tenant, role)
    return PolicyEnforcer(rules)


class PolicySource:
    """The node's current policy: built lazily from `loader`, rebuilt after `invalidate()`.

    The apply path calls `invalidate()` when it applies a command that changes
    identities; that only bumps a counter, so the apply thread never waits on a
    rebuild. The next `allowed` call rebuilds once, however many invalidations came in
    between. A rebuild that raced with an invalidation is used for the call that built
    it but not trusted for the next one, so a change is never lost.
    """

    def __init__(self, loader: Callable[[], PolicyData]) -> None:
        self._loader = loader
        self._generation = 0
        self._built_generation = -1
        self._enforcer: PolicyEnforcer | None = None
        self._counter_lock = threading.Lock()
        self._build_lock = threading.Lock()

    def invalidate(self) -> None:
        """Mark the policy stale; the next question rebuilds it from `loader`."""
        with self._counter_lock:
            self._generation += 1

    def enforcer(self) -> PolicyEnforcer:
        """The current policy, rebuilt first if it is stale."""
        with self._build_lock:
            with self._counter_lock:
                generation = self._generation
            if self._enforcer is None or self._built_generation != generation:
                data = self._loader()
                self._enforcer = build_enforcer(data.bindings, data.system_admins, data.api_keys)
                self._built_generation = generation
            return self._enforcer

    def allowed(self, subject: str, tenant: str | None, action: str) -> bool:
        """See `PolicyEnforcer.allowed`."""
        return self.enforcer().allowed(subject, tenant, action)
