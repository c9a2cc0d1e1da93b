"""`conflux admin ...`: tenants, users, role bindings, API keys and the audit log.

Thin wrappers over the identity routes of the HTTP API (docs/security.md). Passwords
are read with hidden input or from stdin and never printed; an API key is printed once,
when it is created, and cannot be shown again.
"""

from __future__ import annotations

from typing import Any

import click

from conflux.cli.audit import audit, audit_retention
from conflux.cli.context import get_ctx, global_options
from conflux.cli.params import confirm_delete, iso_time, seg
from conflux.cli.users import users

ROLES = ("tenant-admin", "editor", "releaser", "viewer", "client")
ROLE_HELP = (
    "Built-in roles: tenant-admin (everything in the tenant), editor (configs and "
    "versions), releaser (releases and rollback), viewer (read), client (fetch and "
    "watch only, for the API keys of services)."
)


def tenant_path(tenant: str) -> str:
    return f"/api/v1/tenants/{seg(tenant)}"


@click.group()
def admin() -> None:
    """Tenants, users, role bindings, API keys and the audit log."""


admin.add_command(users)
admin.add_command(audit)
admin.add_command(audit_retention)


# --- tenants ---------------------------------------------------------------------------


@admin.group()
def tenants() -> None:
    """Tenants: the unit of ownership of configs."""


@tenants.command("list")
@global_options
def tenants_list() -> None:
    """All tenants."""
    ctx = get_ctx()
    items = ctx.client().get("/api/v1/tenants").get("items") or []
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["NAME", "CREATED", "BY"],
        ([t.get("name"), t.get("created_at"), t.get("created_by")] for t in items),
        empty="no tenants",
    )


@tenants.command("create")
@click.argument("name")
@global_options
def tenants_create(name: str) -> None:
    """Create tenant NAME."""
    ctx = get_ctx()
    tenant = ctx.client().post("/api/v1/tenants", {"name": name})
    out = ctx.output
    if out.json:
        out.emit_json(tenant)
    else:
        out.line(f"created tenant {name}")


@tenants.command("show")
@click.argument("name")
@global_options
def tenants_show(name: str) -> None:
    """Tenant NAME."""
    ctx = get_ctx()
    tenant = ctx.client().get(tenant_path(name))
    out = ctx.output
    if out.json:
        out.emit_json(tenant)
        return
    out.fields(
        [
            ("name", tenant.get("name")),
            ("created", tenant.get("created_at")),
            ("by", tenant.get("created_by")),
        ]
    )


@tenants.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
def tenants_delete(name: str, yes: bool) -> None:
    """Delete tenant NAME with its role bindings and API keys (it must hold no configs)."""
    confirm_delete(yes, f"tenant {name}", " with its role bindings and API keys")
    ctx = get_ctx()
    _, result = ctx.client().request("DELETE", tenant_path(name))
    result = result or {}
    out = ctx.output
    if out.json:
        out.emit_json(result)
    else:
        out.line(
            f"deleted tenant {name} ({result.get('removed_bindings', 0)} bindings, "
            f"{result.get('removed_api_keys', 0)} API keys removed)"
        )


# --- roles (bindings) ------------------------------------------------------------------


@admin.group(help=f"Role bindings: which user holds which role in a tenant.\n\n{ROLE_HELP}")
def roles() -> None:
    pass


@roles.command("list")
@click.argument("tenant_name", metavar="TENANT")
@global_options
def roles_list(tenant_name: str) -> None:
    """The role bindings of TENANT."""
    ctx, tenant = get_ctx(), tenant_name
    items = ctx.client().get(tenant_path(tenant) + "/bindings").get("items") or []
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["USER", "ROLE", "CREATED", "BY"],
        ([b.get("user"), b.get("role"), b.get("created_at"), b.get("created_by")] for b in items),
        empty=f"no role bindings in tenant {tenant}",
    )


@roles.command("show")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("user")
@global_options
def roles_show(tenant_name: str, user: str) -> None:
    """USER's role in TENANT."""
    ctx = get_ctx()
    binding = ctx.client().get(f"{tenant_path(tenant_name)}/bindings/{seg(user)}")
    out = ctx.output
    if out.json:
        out.emit_json(binding)
        return
    out.fields(
        [
            ("user", binding.get("user")),
            ("tenant", binding.get("tenant")),
            ("role", binding.get("role")),
            ("granted", binding.get("created_at")),
            ("by", binding.get("created_by")),
        ]
    )


@roles.command("grant", help=f"Give USER the role ROLE in TENANT.\n\n{ROLE_HELP}")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("user")
@click.argument("role", type=click.Choice(ROLES))
@global_options
def roles_grant(tenant_name: str, user: str, role: str) -> None:
    ctx, tenant = get_ctx(), tenant_name
    binding = ctx.client().post(tenant_path(tenant) + "/bindings", {"user": user, "role": role})
    out = ctx.output
    if out.json:
        out.emit_json(binding)
    else:
        out.line(f"granted {role} in tenant {tenant} to {user}")


@roles.command("revoke")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("user")
@global_options
def roles_revoke(tenant_name: str, user: str) -> None:
    """Remove USER's role in TENANT."""
    ctx, tenant = get_ctx(), tenant_name
    ctx.client().delete(f"{tenant_path(tenant)}/bindings/{seg(user)}")
    out = ctx.output
    if out.json:
        out.emit_json({"tenant": tenant, "user": user, "revoked": True})
    else:
        out.line(f"revoked the role of {user} in tenant {tenant}")


# --- API keys --------------------------------------------------------------------------


@admin.group()
def keys() -> None:
    """API keys: the credentials of services (shown once, at creation)."""


@keys.command("list")
@click.argument("tenant_name", metavar="TENANT")
@global_options
def keys_list(tenant_name: str) -> None:
    """The API keys of TENANT (ids only, never the keys)."""
    ctx, tenant = get_ctx(), tenant_name
    items = ctx.client().get(tenant_path(tenant) + "/apikeys").get("items") or []
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["ID", "NAME", "ROLE", "CREATED", "BY", "EXPIRES", "REVOKED"],
        (
            [k.get("id"), k.get("name"), k.get("role"), k.get("created_at"), k.get("created_by"),
             k.get("expires_at"), k.get("revoked_at")]
            for k in items
        ),
        empty=f"no API keys in tenant {tenant}",
    )  # fmt: skip


@keys.command("create", help=f"Create API key NAME in TENANT.\n\n{ROLE_HELP}")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The key's role.")
@click.option("--expires-at", metavar="ISO", help="Expiry, ISO-8601 with an offset.")
@global_options
def keys_create(tenant_name: str, name: str, role: str, expires_at: str | None) -> None:
    ctx, tenant = get_ctx(), tenant_name
    body: dict[str, Any] = {"name": name, "role": role}
    expiry = iso_time(expires_at, "--expires-at")
    if expiry is not None:
        body["expires_at"] = expiry
    created = ctx.client().post(tenant_path(tenant) + "/apikeys", body)
    out = ctx.output
    out.warn("this is the only time the API key is shown: store it now; it cannot be shown again")
    if out.json:
        out.emit_json(created)
        return
    out.fields(
        [
            ("id", created.get("id")),
            ("tenant", created.get("tenant")),
            ("name", created.get("name")),
            ("role", created.get("role")),
            ("expires", created.get("expires_at")),
        ]
    )
    out.write(f"key: {created.get('key')}\n")


@keys.command("show")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("key_id", metavar="ID")
@global_options
def keys_show(tenant_name: str, key_id: str) -> None:
    """API key ID of TENANT (never the key itself)."""
    ctx = get_ctx()
    key = ctx.client().get(f"{tenant_path(tenant_name)}/apikeys/{seg(key_id)}")
    out = ctx.output
    if out.json:
        out.emit_json(key)
        return
    out.fields(
        [(field, key.get(field)) for field in ("id", "tenant", "name", "role")]
        + [
            ("created", key.get("created_at")),
            ("by", key.get("created_by")),
            ("expires", key.get("expires_at")),
            ("revoked", key.get("revoked_at")),
        ]
    )


@keys.command("revoke")
@click.argument("tenant_name", metavar="TENANT")
@click.argument("key_id", metavar="ID")
@global_options
def keys_revoke(tenant_name: str, key_id: str) -> None:
    """Revoke API key ID of TENANT."""
    ctx, tenant = get_ctx(), tenant_name
    _, result = ctx.client().request("DELETE", f"{tenant_path(tenant)}/apikeys/{seg(key_id)}")
    result = result or {}
    out = ctx.output
    if out.json:
        out.emit_json({"id": key_id, "tenant": tenant, **result})
    else:
        out.line(f"revoked API key {key_id} at {result.get('revoked_at')}")
