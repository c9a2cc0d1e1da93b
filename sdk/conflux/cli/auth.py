"""`conflux auth ...`: log in with a password, log out, and ask who the token is.

The token `login` obtains is kept in `~/.config/conflux/token` (mode 0600, directory
0700) and used when no `--token`, `CONFLUX_TOKEN` or config-file `token` is given. The
password is read with hidden input on a terminal, or from stdin with
`--password-stdin`; it is never printed, logged or put in an error message.
"""

from __future__ import annotations

import os
import sys
from typing import Any
from urllib.parse import quote

import click

from conflux.cli.context import get_ctx, global_options, tls_files, tls_usage_errors
from conflux.cli.errors import CliError, Exit
from conflux.cli.settings import remove_token_file, token_file_path, write_token_file
from conflux.rest import RestClient

LOGIN = "/api/v1/auth/login"
WHOAMI = "/api/v1/auth/whoami"


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def read_password(from_stdin: bool, *, confirm: bool = False, what: str = "Password") -> str:
    """The password from stdin (`--password-stdin`) or a hidden prompt on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif stdin_is_terminal():
        password = click.prompt(what, hide_input=True, confirmation_prompt=confirm, err=True)
    else:
        raise click.UsageError(
            "stdin is not a terminal: pass --password-stdin to read the password from it"
        )
    if not password:
        raise click.UsageError("the password is empty")
    return password


@click.group()
def auth() -> None:
    """Log in, log out, and see who the current credential is."""


@auth.command("login")
@click.option("--username", "-u", metavar="NAME", help="User to log in as (prompted if absent).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (first line).")
@global_options
def login(username: str | None, password_stdin: bool) -> None:
    """Log in with a password and store the token in ~/.config/conflux/token (0600)."""
    ctx = get_ctx()
    if not username:
        if password_stdin or not stdin_is_terminal():
            raise click.UsageError("pass --username with --password-stdin or without a terminal")
        username = str(click.prompt("Username", err=True)).strip()
    password = read_password(password_stdin)
    settings = ctx.settings
    # The login request carries no credential: a stale stored token has no say in it.
    client = tls_usage_errors(lambda: RestClient(list(settings.endpoints), **tls_files(settings)))
    answer: dict[str, Any] = client.post(LOGIN, {"username": username, "password": password})
    del password
    token, expires_at = answer.get("token"), answer.get("expires_at")
    if not isinstance(token, str) or not token:
        raise CliError("bad_answer", "the login answer holds no token")
    path = token_file_path(os.environ)
    write_token_file(path, token)
    out = ctx.output
    source = settings.sources.get("token")
    if source and source != str(path):
        where = {"flag": "--token", "env": "CONFLUX_TOKEN"}.get(source, f"token in {source}")
        out.warn(f"{where} takes precedence over the stored token")
    if out.json:
        out.emit_json({"username": username, "expires_at": expires_at, "token_file": str(path)})
    else:
        out.line(f"logged in as {username} until {expires_at}")


@auth.command("passwd")
@click.option(
    "--password-stdin", is_flag=True, help="Read the current, then the new password from stdin."
)
@global_options
def passwd(password_stdin: bool) -> None:
    """Change your own password, then log in again with it (older tokens stop working)."""
    ctx = get_ctx()
    who: dict[str, Any] = ctx.client().get(WHOAMI)
    if who.get("kind") != "user":
        raise click.UsageError("only a user has a password; this credential is an API key")
    username = str(who["subject"])
    current = read_password(password_stdin, what="Current password")
    new = read_password(password_stdin, confirm=True, what="New password")
    body = {"password": new, "current_password": current}
    ctx.client().put(f"/api/v1/users/{quote(username, safe='')}/password", body)
    del current, body
    settings = ctx.settings
    client = tls_usage_errors(lambda: RestClient(list(settings.endpoints), **tls_files(settings)))
    answer: dict[str, Any] = client.post(LOGIN, {"username": username, "password": new})
    del new
    write_token_file(token_file_path(os.environ), str(answer["token"]))
    out = ctx.output
    if out.json:
        out.emit_json({"username": username, "expires_at": answer.get("expires_at")})
    else:
        out.line(f"changed the password of {username}; logged in again")


@auth.command("logout")
@global_options
def logout() -> None:
    """Forget the stored token (delete ~/.config/conflux/token)."""
    path = token_file_path(os.environ)
    removed = remove_token_file(path)
    out = get_ctx().output
    if out.json:
        out.emit_json({"logged_out": removed, "token_file": str(path)})
    else:
        out.line("logged out" if removed else "not logged in (no stored token)")


@auth.command("whoami")
@global_options
def whoami() -> None:
    """Who the current credential (token or API key) is."""
    ctx = get_ctx()
    if not ctx.settings.token:
        raise CliError(
            "unauthenticated",
            "no credential: run `conflux auth login`, or pass --token / set CONFLUX_TOKEN",
            Exit.UNAUTHENTICATED,
        )
    who: dict[str, Any] = ctx.client().get(WHOAMI)
    out = ctx.output
    if out.json:
        out.emit_json(who)
        return
    bindings = who.get("bindings")
    roles = ", ".join(f"{b['tenant']}:{b['role']}" for b in bindings or []) or None
    pairs: list[tuple[str, Any]] = [
        ("subject", who.get("subject")),
        ("kind", who.get("kind")),
        ("system admin", bool(who.get("system_admin"))),
    ]
    if who.get("kind") == "apikey":
        pairs += [("name", who.get("name")), ("tenant", who.get("tenant")),
                  ("role", who.get("role"))]  # fmt: skip
    else:
        pairs += [("roles", roles), ("expires", who.get("expires_at"))]
    out.fields(pairs)
