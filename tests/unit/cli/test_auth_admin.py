"""`conflux auth ...` and `conflux admin ...` against an in-process, bootstrapped node."""

from __future__ import annotations

import json
import logging
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import conflux.cli.auth as cli_auth
from conflux.cli.settings import resolve, token_file_path
from conflux_node.consensus.bridge import LocalProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.service.bootstrap import bootstrap_once
from conflux_node.storage.memory import MemoryStore
from tests.unit.cli.conftest import Cli, Node, serve_node

ADMIN_PASSWORD = "Adm1n-Pa55-for-cli-tests"
BOB_PASSWORD = "b0b-S3cret-cli-pass"


async def bootstrapped_store() -> MemoryStore:
    store = MemoryStore()
    assert await bootstrap_once(store, LocalProposer(StateMachine(store)), ADMIN_PASSWORD)
    return store


@pytest.fixture
def node() -> Iterator[Node]:
    """The conftest node, but bootstrapped: user `admin` and the token signing key exist."""
    with serve_node(bootstrapped_store) as served:
        yield served


@pytest.fixture
def run(node: Node, tmp_path: Path) -> Cli:
    """A CLI with no credential of its own: these tests log in."""
    return Cli(CliRunner(), node.url, tmp_path)


def as_admin(run: Cli) -> None:
    """Log in as the admin, as a user would before `conflux admin ...`."""
    result = login(run)
    assert result.exit_code == 0, result.output


def token_file(run: Cli) -> Path:
    return token_file_path({"HOME": str(run.home)})


def login(run: Cli, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    return run("auth", "login", "--username", username, "--password-stdin", input=password + "\n")


def make_user(run: Cli, name: str = "bob", password: str = BOB_PASSWORD, *extra: str) -> Any:
    return run("admin", "users", "create", name, "--password-stdin", *extra, input=password + "\n")


# --- auth ------------------------------------------------------------------------------


def test_login_stores_a_private_token_that_later_commands_send(run: Cli, node: Node) -> None:
    result = login(run)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("logged in as admin until 20")
    path = token_file(run)
    assert path == run.home / ".config" / "conflux" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = path.read_text().strip()
    assert token.count(".") == 2  # a JWT
    assert token not in result.output

    node.authorizations.clear()
    who = json.loads(run.ok("auth", "whoami", "-o", "json").stdout)
    assert who["subject"] == "admin" and who["kind"] == "user" and who["system_admin"] is True
    assert node.authorizations == [f"Bearer {token}"]
    table = run.ok("auth", "whoami").stdout
    assert "admin" in table and "user" in table

    # Writes made with the stored token are audited as the user.
    run.ok("admin", "tenants", "create", "acme")
    records = json.loads(run.ok("admin", "audit", "--actor", "user:admin", "-o", "json").stdout)
    assert [r["target"] for r in records["items"]] == ["tenant/acme"]


def test_login_respects_xdg_config_home_and_prompts_hidden(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_auth, "stdin_is_terminal", lambda: True)
    xdg = tmp_path / "xdg"
    result = run("auth", "login", input=f"admin\n{ADMIN_PASSWORD}\n",
                 env={"XDG_CONFIG_HOME": str(xdg)})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ADMIN_PASSWORD not in result.output
    path = xdg / "conflux" / "token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not token_file(run).exists()
    who = run.ok("auth", "whoami", "-o", "json", env={"XDG_CONFIG_HOME": str(xdg)})
    assert json.loads(who.stdout)["subject"] == "admin"


def test_login_without_a_terminal_needs_password_stdin(run: Cli) -> None:
    result = run("auth", "login", "--username", "admin", input=ADMIN_PASSWORD + "\n")
    assert result.exit_code == 2
    assert "--password-stdin" in result.stderr
    assert not token_file(run).exists()


def test_logout_removes_the_token(run: Cli) -> None:
    assert login(run).exit_code == 0
    assert run.ok("auth", "logout").stdout.strip() == "logged out"
    assert not token_file(run).exists()
    assert run.ok("auth", "logout").stdout.strip() == "not logged in (no stored token)"
    result = run("auth", "whoami")
    assert result.exit_code == 6
    assert result.stderr.startswith("error: unauthenticated: ")


def test_wrong_password_exits_6_and_stores_nothing(
    run: Cli, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "not-the-Adm1n-password"
    result = login(run, password=wrong)
    assert result.exit_code == 6
    assert result.stderr.startswith("error: unauthenticated: ")
    assert result.stdout == ""
    assert wrong not in result.output and wrong not in caplog.text
    assert not token_file(run).exists()
    assert not token_file(run).parent.exists() or not any(token_file(run).parent.iterdir())


def test_too_many_logins_exit_5(run: Cli) -> None:
    codes = [login(run, password="wrong-password").exit_code for _ in range(6)]
    assert codes[:5] == [6] * 5
    assert codes[5] == 5
    result = login(run)
    assert result.exit_code == 5
    assert "error: too_many_requests: " in result.stderr
    assert not token_file(run).exists()


def test_token_precedence(tmp_path: Path) -> None:
    environ = {"HOME": str(tmp_path)}
    path = token_file_path(environ)
    path.parent.mkdir(parents=True)
    path.write_text("stored-token\n")
    assert resolve({}, environ).token == "stored-token"
    assert resolve({}, environ).sources["token"] == str(path)
    (path.parent / "config.toml").write_text('token = "file-token"\n')
    assert resolve({}, environ).token == "file-token"
    assert resolve({}, {**environ, "CONFLUX_TOKEN": "env-token"}).token == "env-token"
    flags = {"token": "flag-token"}
    assert resolve(flags, {**environ, "CONFLUX_TOKEN": "env-token"}).token == "flag-token"


def test_an_explicit_token_wins_over_the_stored_one(run: Cli, node: Node) -> None:
    assert login(run).exit_code == 0
    result = run("auth", "whoami", env={"CONFLUX_TOKEN": "bogus"})
    assert result.exit_code == 6
    assert node.authorizations[-1] == "Bearer bogus"
    flag = run("--token", "other", "auth", "whoami", env={"CONFLUX_TOKEN": "bogus"})
    assert flag.exit_code == 6
    assert node.authorizations[-1] == "Bearer other"
    warned = login(run, "admin", ADMIN_PASSWORD)
    assert warned.exit_code == 0
    relogin = run("auth", "login", "-u", "admin", "--password-stdin",
                  input=ADMIN_PASSWORD + "\n", env={"CONFLUX_TOKEN": "bogus"})  # fmt: skip
    assert relogin.exit_code == 0
    assert "CONFLUX_TOKEN takes precedence" in relogin.stderr


# --- admin tenants ---------------------------------------------------------------------


def test_tenants(run: Cli) -> None:
    as_admin(run)
    assert run.ok("admin", "tenants", "create", "acme").stdout.strip() == "created tenant acme"
    dup = run("admin", "tenants", "create", "acme")
    assert dup.exit_code == 4
    assert dup.stderr.startswith("error: ")
    run.ok("admin", "tenants", "create", "globex")
    listed = json.loads(run.ok("admin", "tenants", "list", "-o", "json").stdout)
    assert [t["name"] for t in listed] == ["acme", "globex"]
    table = run.ok("admin", "tenants", "list").stdout
    assert table.splitlines()[0].split() == ["NAME", "CREATED", "BY"]
    assert (
        json.loads(run.ok("admin", "tenants", "show", "acme", "-o", "json").stdout)["name"]
        == "acme"
    )
    missing = run("admin", "tenants", "show", "nope")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("error: tenant_not_found: ")
    refused = run("admin", "tenants", "delete", "globex")
    assert refused.exit_code == 2
    deleted = run.ok("admin", "tenants", "delete", "globex", "--yes")
    assert deleted.stdout.startswith("deleted tenant globex")
    assert run("admin", "tenants", "delete", "globex", "--yes").exit_code == 3


# --- admin users -----------------------------------------------------------------------


def test_users(run: Cli, caplog: pytest.LogCaptureFixture) -> None:
    as_admin(run)
    caplog.set_level(logging.DEBUG)
    created = make_user(run)
    assert created.exit_code == 0, created.output
    assert created.stdout.strip() == "created user bob"
    dup = make_user(run)
    assert dup.exit_code == 4
    admin = make_user(run, "carol", "c4rol-Pass-word", "--system-admin", "-o", "json")
    assert admin.exit_code == 0
    assert json.loads(admin.stdout)["system_admin"] is True
    listed = run.ok("admin", "users", "list", "-o", "json").stdout
    assert [u["username"] for u in json.loads(listed)] == ["admin", "bob", "carol"]
    assert "password" not in listed.replace("password_changed_at", "")
    bob = json.loads(run.ok("admin", "users", "show", "bob", "-o", "json").stdout)
    assert bob["username"] == "bob" and bob["system_admin"] is False
    missing = run("admin", "users", "show", "nobody")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("error: user_not_found: ")
    # bob can log in with the password he was given.
    assert login(run, "bob", BOB_PASSWORD).stdout.startswith("logged in as bob until ")
    as_admin(run)
    assert run.ok("admin", "users", "delete", "bob", "--yes").stdout.strip() == "deleted user bob"
    assert run("admin", "users", "delete", "bob", "--yes").exit_code == 3
    for result in (created, dup, admin):
        assert BOB_PASSWORD not in result.output
    assert BOB_PASSWORD not in caplog.text and "c4rol-Pass-word" not in caplog.text


def test_passwords_are_changed_by_their_owner_and_reset_by_an_admin(run: Cli) -> None:
    as_admin(run)
    assert make_user(run).exit_code == 0
    reset = run("admin", "users", "passwd", "bob", "--password-stdin", input="r3set-by-admin\n")
    assert reset.exit_code == 0, reset.output
    assert reset.stdout.strip() == "changed the password of bob"
    assert login(run, "bob", "r3set-by-admin").exit_code == 0
    time.sleep(1.01)  # tokens carry whole seconds: the change must come after the login
    changed = run("auth", "passwd", "--password-stdin", input="r3set-by-admin\nb0b-own-choice\n")
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.strip() == "changed the password of bob; logged in again"
    assert "r3set-by-admin" not in changed.output and "b0b-own-choice" not in changed.output
    who = json.loads(run.ok("auth", "whoami", "-o", "json").stdout)
    assert who["subject"] == "bob"
    wrong = run("auth", "passwd", "--password-stdin", input="not-it-at-all\nwhatever-new\n")
    assert wrong.exit_code == 6
    assert login(run, "bob", "b0b-own-choice").exit_code == 0


def test_user_password_prompt_is_hidden_and_confirmed(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    as_admin(run)
    monkeypatch.setattr(cli_auth, "stdin_is_terminal", lambda: True)
    mismatch = run("admin", "users", "create", "dave", input="first-pass\nsecond-pass\n")
    assert mismatch.exit_code != 0
    result = run("admin", "users", "create", "dave", input="d4ve-Pass-word\nd4ve-Pass-word\n")
    assert result.exit_code == 0, result.output
    assert "d4ve-Pass-word" not in result.output
    assert login(run, "dave", "d4ve-Pass-word").exit_code == 0


def test_user_create_without_a_terminal_needs_password_stdin(run: Cli) -> None:
    as_admin(run)
    result = run("admin", "users", "create", "bob", input=BOB_PASSWORD + "\n")
    assert result.exit_code == 2
    assert BOB_PASSWORD not in result.output


# --- admin roles -----------------------------------------------------------------------


def test_roles(run: Cli) -> None:
    as_admin(run)
    run.ok("admin", "tenants", "create", "acme")
    assert make_user(run).exit_code == 0
    granted = run.ok("admin", "roles", "grant", "acme", "bob", "editor")
    assert granted.stdout.strip() == "granted editor in tenant acme to bob"
    assert run("admin", "roles", "grant", "acme", "bob", "viewer").exit_code == 4
    assert run("admin", "roles", "grant", "acme", "nobody", "viewer").exit_code == 3
    assert run("admin", "roles", "grant", "acme", "bob", "owner").exit_code == 2
    listed = json.loads(run.ok("admin", "roles", "list", "acme", "-o", "json").stdout)
    assert [(b["user"], b["role"]) for b in listed] == [("bob", "editor")]
    assert "bob" in run.ok("admin", "roles", "list", "acme").stdout
    shown = json.loads(run.ok("admin", "roles", "show", "acme", "bob", "-o", "json").stdout)
    assert (shown["user"], shown["role"]) == ("bob", "editor")
    assert "role" in run.ok("admin", "roles", "show", "acme", "bob").stdout
    assert run("admin", "roles", "show", "acme", "nobody").exit_code == 3
    assert run("admin", "roles", "list", "nope").exit_code == 3
    show = json.loads(run.ok("admin", "users", "show", "bob", "-o", "json").stdout)
    assert show["bindings"] == [{"tenant": "acme", "role": "editor"}]
    run.ok("admin", "roles", "revoke", "acme", "bob")
    assert json.loads(run.ok("admin", "roles", "list", "acme", "-o", "json").stdout) == []
    assert run("admin", "roles", "revoke", "acme", "bob").exit_code == 3


def test_roles_help_lists_the_built_in_roles(run: Cli) -> None:
    for args in (("admin", "roles", "--help"), ("admin", "roles", "grant", "--help")):
        text = run.ok(*args).stdout
        for role in ("tenant-admin", "editor", "releaser", "viewer", "client"):
            assert role in text


# --- admin keys ------------------------------------------------------------------------


def test_keys_are_shown_once(run: Cli, node: Node) -> None:
    as_admin(run)
    run.ok("admin", "tenants", "create", "acme")
    created = run.ok("admin", "keys", "create", "acme", "checkout", "--role", "client",
                     "--expires-at", "2030-01-01T00:00:00Z")  # fmt: skip
    assert "cannot be shown again" in created.stderr
    key_lines = [line for line in created.stdout.splitlines() if line.startswith("key: ")]
    assert len(key_lines) == 1
    key = key_lines[0].removeprefix("key: ")
    assert key.startswith("cfx_")
    assert created.stdout.count(key) == 1

    listed_text = run.ok("admin", "keys", "list", "acme", "-o", "json").stdout
    assert key not in listed_text and key.split("_")[-1] not in listed_text
    listed = json.loads(listed_text)
    assert [(k["name"], k["role"]) for k in listed] == [("checkout", "client")]
    assert listed[0]["expires_at"].startswith("2030-01-01T00:00:00")
    key_id = listed[0]["id"]
    assert key_id in key
    assert "checkout" in run.ok("admin", "keys", "list", "acme").stdout
    shown = json.loads(run.ok("admin", "keys", "show", "acme", key_id, "-o", "json").stdout)
    assert shown == listed[0]
    assert key not in run.ok("admin", "keys", "show", "acme", key_id).stdout

    # The key is a credential: whoami with it answers the key.
    who = json.loads(run.ok("--token", key, "auth", "whoami", "-o", "json").stdout)
    assert who["kind"] == "apikey" and who["tenant"] == "acme" and who["role"] == "client"

    as_json = run.ok("admin", "keys", "create", "acme", "deploy", "--role", "releaser",
                     "-o", "json")  # fmt: skip
    data = json.loads(as_json.stdout)
    assert data["key"].startswith("cfx_") and data["name"] == "deploy"
    assert "cannot be shown again" in as_json.stderr

    dup = run("admin", "keys", "create", "acme", "checkout", "--role", "client")
    assert dup.exit_code == 4
    assert run("admin", "keys", "create", "nope", "x", "--role", "client").exit_code == 3
    bad_time = run("admin", "keys", "create", "acme", "x", "--role", "client",
                   "--expires-at", "tomorrow")  # fmt: skip
    assert bad_time.exit_code == 2

    revoked = run.ok("admin", "keys", "revoke", "acme", key_id)
    assert revoked.stdout.startswith(f"revoked API key {key_id} at ")
    assert run("--token", key, "auth", "whoami").exit_code == 6
    assert run("admin", "keys", "revoke", "acme", "000000000000").exit_code == 3


# --- admin audit -----------------------------------------------------------------------


def test_audit_pages_and_filters(run: Cli) -> None:
    as_admin(run)
    for name in ("acme", "globex", "initech"):
        run.ok("admin", "tenants", "create", name)
    first = json.loads(run.ok("admin", "audit", "--limit", "2", "-o", "json").stdout)
    assert len(first["items"]) == 2 and first["next"] is not None
    every = json.loads(run.ok("admin", "audit", "--limit", "2", "--all", "-o", "json").stdout)
    assert len(every["items"]) >= 4  # bootstrap and three tenants
    seqs = [r["seq"] for r in every["items"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert every["items"][:2] == first["items"]
    one = json.loads(run.ok("admin", "audit", "--tenant", "globex", "--all", "-o", "json").stdout)
    assert [r["tenant"] for r in one["items"]] == ["globex"]
    assert run.ok("admin", "audit", "--actor", "nobody", "-o", "json").stdout.count("seq") == 0
    table = run.ok("admin", "audit", "--limit", "2")
    assert table.stdout.splitlines()[0].split()[:4] == ["SEQ", "TIME", "ACTOR", "ACTION"]
    assert "more records" in table.stderr
    since = run.ok("admin", "audit", "--since", "2000-01-01T00:00:00Z", "-o", "json")
    assert len(json.loads(since.stdout)["items"]) >= 4
    assert run("admin", "audit", "--since", "yesterday").exit_code == 2


def test_passwords_never_reach_output_or_logs(run: Cli, caplog: pytest.LogCaptureFixture) -> None:
    as_admin(run)
    caplog.set_level(logging.DEBUG)
    results = [
        login(run),
        make_user(run),
        login(run, "bob", BOB_PASSWORD),
        login(run, "bob", BOB_PASSWORD + "-wrong"),
        run("auth", "whoami"),
    ]
    for result in results:
        assert ADMIN_PASSWORD not in result.output
        assert BOB_PASSWORD not in result.output
    assert ADMIN_PASSWORD not in caplog.text and BOB_PASSWORD not in caplog.text


def test_audit_retention_shown_and_set(run: Cli) -> None:
    as_admin(run)
    shown = run.ok("admin", "audit-retention").stdout
    assert "keep last" in shown and "no limit" in shown
    set_ = json.loads(
        run.ok("admin", "audit-retention", "--keep-last", "500", "--keep-days", "30",
               "-o", "json").stdout
    )  # fmt: skip
    assert set_ == {"keep_last": 500, "keep_days": 30}
    assert json.loads(run.ok("admin", "audit-retention", "-o", "json").stdout) == set_
    lifted = json.loads(run.ok("admin", "audit-retention", "--keep-all", "-o", "json").stdout)
    assert lifted == {"keep_last": None, "keep_days": None}
    assert run("admin", "audit-retention", "--keep-all", "--keep-last", "5").exit_code == 2
    assert run("admin", "audit-retention", "--keep-last", "0").exit_code == 2
