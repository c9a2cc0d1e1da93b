"""`conflux admin users ...`: people who log in with a password.

Passwords are read with hidden input (twice when set) or from stdin, and are never
printed, logged or put in an error message.
"""

from __future__ import annotations

import click

from conflux.cli.auth import read_password
from conflux.cli.context import get_ctx, global_options
from conflux.cli.params import confirm_delete, seg


@click.group()
def users() -> None:
    """Users: people who log in with a password."""


@users.command("list")
@global_options
def users_list() -> None:
    """All users (never their password hashes)."""
    ctx = get_ctx()
    items = ctx.client().get("/api/v1/users").get("items") or []
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["USERNAME", "SYSTEM ADMIN", "CREATED", "BY"],
        (
            [u.get("username"), bool(u.get("system_admin")), u.get("created_at"),
             u.get("created_by")]
            for u in items
        ),
        empty="no users",
    )  # fmt: skip


@users.command("create")
@click.argument("name")
@click.option("--system-admin", is_flag=True, help="Make the user a system administrator.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (first line).")
@global_options
def users_create(name: str, system_admin: bool, password_stdin: bool) -> None:
    """Create user NAME; the password is prompted for (twice, hidden) or read from stdin."""
    ctx = get_ctx()
    password = read_password(password_stdin, confirm=True, what=f"Password for {name}")
    body = {"username": name, "password": password, "system_admin": system_admin}
    user = ctx.client().post("/api/v1/users", body)
    del password, body
    out = ctx.output
    if out.json:
        out.emit_json(user)
    else:
        kind = "system admin" if system_admin else "user"
        out.line(f"created {kind} {name}")


@users.command("show")
@click.argument("name")
@global_options
def users_show(name: str) -> None:
    """User NAME and its roles in each tenant."""
    ctx = get_ctx()
    user = ctx.client().get(f"/api/v1/users/{seg(name)}")
    out = ctx.output
    if out.json:
        out.emit_json(user)
        return
    roles = ", ".join(f"{b['tenant']}:{b['role']}" for b in user.get("bindings") or [])
    out.fields(
        [
            ("username", user.get("username")),
            ("system admin", bool(user.get("system_admin"))),
            ("roles", roles or None),
            ("created", user.get("created_at")),
            ("by", user.get("created_by")),
            ("password changed", user.get("password_changed_at")),
        ]
    )


@users.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
def users_delete(name: str, yes: bool) -> None:
    """Delete user NAME with its role bindings."""
    confirm_delete(yes, f"user {name}", " with its role bindings")
    ctx = get_ctx()
    ctx.client().delete(f"/api/v1/users/{seg(name)}")
    out = ctx.output
    if out.json:
        out.emit_json({"deleted": name})
    else:
        out.line(f"deleted user {name}")


@users.command("passwd")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@global_options
def users_passwd(name: str, password_stdin: bool) -> None:
    """Set NAME's password (system admins); NAME's older tokens stop working."""
    ctx = get_ctx()
    password = read_password(password_stdin, confirm=True, what=f"New password for {name}")
    ctx.client().put(f"/api/v1/users/{seg(name)}/password", {"password": password})
    del password
    out = ctx.output
    if out.json:
        out.emit_json({"username": name, "password_changed": True})
    else:
        out.line(f"changed the password of {name}")
