"""Actions and built-in roles: the permission table, as plain data.

Every route names one action; every role is a set of actions. Keeping the table as
data (not as casbin policy text) lets the policy be generated from it, lets the tests
walk the whole matrix, and lets the API's route table be checked against `ACTIONS`.

Tenant roles are bound per tenant (the casbin domain), so a role grants its actions in
that tenant only. The system admin holds every action in every tenant and the
system-wide actions (`tenant.admin`, `user.admin`, `audit.admin`) no tenant role grants.

Read access (`config.read`) covers configs, versions, releases and diffs. Whoever may
read every version may also `fetch` and `watch`: the served value is one of those
versions, so refusing it would protect nothing. The `client` role, meant for the API
keys of services, is the reverse: it gets what a running service needs, the value it
is served, and not the history or the release rules.
"""

from __future__ import annotations

from typing import Final

# Tenant-scoped actions.
CONFIG_READ: Final = "config.read"
CONFIG_WRITE: Final = "config.write"
VERSION_CREATE: Final = "version.create"
RELEASE_WRITE: Final = "release.write"
"""Setting a release and rolling back: a rollback is a new release of older versions."""
FETCH: Final = "fetch"
WATCH: Final = "watch"
BINDING_ADMIN: Final = "binding.admin"
APIKEY_ADMIN: Final = "apikey.admin"
AUDIT_READ: Final = "audit.read"

# System-wide actions: only the system admin holds them.
TENANT_ADMIN: Final = "tenant.admin"
USER_ADMIN: Final = "user.admin"
AUDIT_ADMIN: Final = "audit.admin"
"""Setting how long the audit log keeps records."""

TENANT_ACTIONS: Final = frozenset(
    {
        CONFIG_READ,
        CONFIG_WRITE,
        VERSION_CREATE,
        RELEASE_WRITE,
        FETCH,
        WATCH,
        BINDING_ADMIN,
        APIKEY_ADMIN,
        AUDIT_READ,
    }
)
SYSTEM_ACTIONS: Final = frozenset({TENANT_ADMIN, USER_ADMIN, AUDIT_ADMIN})
ACTIONS: Final = TENANT_ACTIONS | SYSTEM_ACTIONS

# Built-in tenant roles.
TENANT_ADMIN_ROLE: Final = "tenant-admin"
EDITOR: Final = "editor"
RELEASER: Final = "releaser"
VIEWER: Final = "viewer"
CLIENT: Final = "client"

_READ: Final = frozenset({CONFIG_READ, FETCH, WATCH})

ROLE_PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    TENANT_ADMIN_ROLE: TENANT_ACTIONS,
    EDITOR: _READ | {CONFIG_WRITE, VERSION_CREATE},
    RELEASER: _READ | {RELEASE_WRITE},
    VIEWER: _READ,
    CLIENT: frozenset({FETCH, WATCH}),
}
"""What each tenant role may do inside the tenant it is bound in."""

TENANT_ROLES: Final = frozenset(ROLE_PERMISSIONS)

SYSTEM_ADMIN_ROLE: Final = "system-admin"
"""Not bindable per tenant: it comes from the user record's `system_admin` flag."""
SYSTEM_ADMIN_PERMISSIONS: Final = ACTIONS


def permissions_of(role: str) -> frozenset[str]:
    """The actions `role` grants; raises `KeyError` for a role that does not exist."""
    if role == SYSTEM_ADMIN_ROLE:
        return SYSTEM_ADMIN_PERMISSIONS
    return ROLE_PERMISSIONS[role]
