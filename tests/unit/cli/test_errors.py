"""Exit codes, error lines without tracebacks, tokens, failover and completion."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conflux.cli.errors import Exit, exit_code_for_status
from conflux.rest import ApiError, RestClient
from tests.unit.cli.conftest import Cli, Node

DEAD = "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, Exit.API_ERROR), (401, Exit.UNAUTHENTICATED), (403, Exit.UNAUTHENTICATED),
     (422, Exit.API_ERROR), (429, Exit.UNAVAILABLE),
     (404, Exit.NOT_FOUND), (409, Exit.CONFLICT), (412, Exit.CONFLICT), (503, Exit.UNAVAILABLE),
     (500, Exit.API_ERROR)],
)  # fmt: skip
def test_status_to_exit_code(status: int, code: Exit) -> None:
    assert exit_code_for_status(status) == code


def test_unreachable_node_exits_5(run: Cli) -> None:
    result = run("config", "list", env={"CONFLUX_ENDPOINTS": DEAD})
    assert result.exit_code == 5
    assert result.stdout == ""
    assert result.stderr.startswith("error: unavailable: no endpoint answered")
    assert "Traceback" not in result.output


def test_failover_to_the_next_endpoint(run: Cli, node: Node) -> None:
    result = run("--endpoint", DEAD, "--endpoint", node.url, "cluster", "status", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["leader"] == "n1"
    env_list = run("cluster", "status", env={"CONFLUX_ENDPOINTS": f"{DEAD},{node.url}"})
    assert env_list.exit_code == 0


def test_503_exits_5(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise ApiError(503, "unavailable", "the outcome of the write is unknown", {})

    monkeypatch.setattr(RestClient, "request", unavailable)
    result = run("config", "list")
    assert result.exit_code == 5
    assert result.stderr.strip() == "error: unavailable: the outcome of the write is unknown"


def test_unexpected_errors_never_show_a_traceback(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(RestClient, "request", broken)
    result = run("config", "list")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: internal: RuntimeError: boom"
    assert "Traceback" not in result.output


def test_token_is_sent_as_bearer(run: Cli, node: Node) -> None:
    run.ok("config", "list")
    assert run("config", "list", env={"CONFLUX_TOKEN": "from-env"}).exit_code == 6
    flag = run("--token", "from-flag", "config", "list", env={"CONFLUX_TOKEN": "from-env"})
    assert flag.exit_code == 6
    assert "unauthenticated" in flag.stderr
    assert node.authorizations == [f"Bearer {node.token}", "Bearer from-env", "Bearer from-flag"]


def test_missing_scope_is_a_usage_error(run: Cli) -> None:
    result = run("config", "list", env={"CONFLUX_APP": ""})
    assert result.exit_code == 2
    assert "no app: pass --app, set CONFLUX_APP" in result.stderr


def test_unknown_command_is_a_usage_error(run: Cli) -> None:
    assert run("config", "frobnicate").exit_code == 2
    assert run("--output", "xml", "config", "list").exit_code == 2


def test_json_errors_still_go_to_stderr(run: Cli) -> None:
    result = run("config", "show", "nope", "-o", "json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.startswith("error: config_not_found: ")


def test_version_and_completion(run: Cli) -> None:
    assert "conflux, version 0.1.0" in run.ok("--version").stdout
    from conflux.cli.main import cli

    script = run.runner.invoke(
        cli, [], prog_name="conflux", env={"_CONFLUX_COMPLETE": "bash_source"}
    )
    assert script.exit_code == 0
    assert "_conflux_completion" in script.stdout
    words = run.runner.invoke(
        cli, [], prog_name="conflux",
        env={"_CONFLUX_COMPLETE": "bash_complete", "COMP_WORDS": "conflux rel", "COMP_CWORD": "1"},
    )  # fmt: skip
    assert "release" in words.stdout
