"""`conflux fetch` and `conflux watch` against an in-process node."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from conflux.cli import watch as watch_module
from conflux.rest import RestClient
from tests.unit.cli.conftest import Cli, Node

C = "/api/v1/configs/acme/shop/prod/db"


def released(run: Cli, *rules: str) -> None:
    run.ok("config", "create", "db", "--format", "json")
    run.ok("config", "push", "db", "-", input='{"v": 1}')
    run.ok("config", "push", "db", "-", input='{"v": 2}')
    run.ok("release", "set", "db", "--default", "1", *rules)


def test_fetch_evaluates_rules_for_this_identity(run: Cli) -> None:
    released(run, "--rule", "canary=2", "--match", "canary:labels.zone=a",
             "--rule", "pod=2", "--match", "pod:client=pod-7")  # fmt: skip
    canary = json.loads(run.ok("fetch", "db", "--label", "zone=a", "-o", "json").stdout)
    assert (canary["version"], canary["rule"]) == (2, "canary")
    other = json.loads(run.ok("fetch", "db", "--label", "zone=b", "-o", "json").stdout)
    assert (other["version"], other["rule"]) == (1, None)
    pod = json.loads(run.ok("fetch", "db", "--client-id", "pod-7", "-o", "json").stdout)
    assert (pod["version"], pod["rule"]) == (2, "pod")


def test_fetch_table_and_raw(run: Cli) -> None:
    released(run)
    table = run.ok("fetch", "db").stdout.splitlines()
    assert table[0].split() == ["version", "1"]
    assert table[2].split() == ["rule", "(default)"]
    assert table[-1] == '{"v": 1}'
    assert run.ok("fetch", "db", "--raw").stdout == '{"v": 1}'


def test_fetch_before_release_is_not_found(run: Cli) -> None:
    run.ok("config", "create", "db", "--format", "json")
    result = run("fetch", "db")
    assert result.exit_code == 3
    assert result.stderr.startswith("error: release_not_found: ")


def test_fetch_bad_label_is_a_usage_error(run: Cli) -> None:
    result = run("fetch", "db", "--label", "zone")
    assert result.exit_code == 2
    assert "'zone' is not k=v" in result.stderr


# --- watch --------------------------------------------------------------------------


def test_watch_prints_the_current_state_first(run: Cli) -> None:
    released(run)
    line = run.ok("watch", "db", "--count", "1").stdout.strip()
    stamp, path, version, revision, rule, sha = line.split()
    assert re.fullmatch(r"\d\d:\d\d:\d\d", stamp)
    assert (path, version, revision, rule) == (
        "acme/shop/prod/db",
        "version=1",
        "revision=1",
        "rule=-",
    )
    assert re.fullmatch(r"sha256=[0-9a-f]{12}", sha)
    as_json = json.loads(run.ok("watch", "acme/shop/prod/db", "--count", "1", "-o", "json").stdout)
    assert as_json["version"] == 1 and as_json["content"] == '{"v": 1}'
    assert as_json["absent"] is False


def test_watch_needs_a_scope_or_full_coordinates(run: Cli) -> None:
    result = run("watch", "db", env={"CONFLUX_TENANT": ""})
    assert result.exit_code == 2 and "no tenant" in result.stderr
    bad = run("watch", "a/b/db")
    assert bad.exit_code == 2 and "is not NAME or TENANT/APP/ENV/NAME" in bad.stderr


class Watcher:
    """`conflux watch` as a child process; its stdout lines are read by a thread."""

    def __init__(self, node: Node, *args: str) -> None:
        env = {**os.environ, "CONFLUX_ENDPOINTS": node.url, "CONFLUX_TENANT": "acme",
               "CONFLUX_APP": "shop", "CONFLUX_ENV": "prod",
               "CONFLUX_CONFIG_FILE": os.devnull, "CONFLUX_TOKEN": node.token or ""}  # fmt: skip
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conflux.cli.main", "watch", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def next(self, timeout: float = 10) -> Any:
        try:
            return json.loads(self.lines.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no line from watch within {timeout}s") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def test_watch_follows_changes_and_exits_0_on_ctrl_c(run: Cli, node: Node) -> None:
    released(run)
    watcher = Watcher(node, "db", "--label", "zone=a", "-o", "json", "--wait", "5")
    proc = watcher.proc
    try:
        assert watcher.next()["version"] == 1
        api = RestClient(node.url, token=node.token)
        api.put(C + "/release", {"default_version": 1, "rules": [
            {"name": "canary", "match": {"labels": {"zone": "a"}}, "version": 2}]})  # fmt: skip
        started = time.monotonic()
        update = watcher.next()
        assert time.monotonic() - started < 3
        assert (update["version"], update["rule"], update["release_revision"]) == (2, "canary", 2)
        api.delete(C)
        assert watcher.next()["absent"] is True
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
        assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    finally:
        watcher.close()


def test_watch_retries_after_losing_the_connection(
    run: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers: list[Any] = [
        [{"tenant": "acme", "app": "shop", "env": "prod", "name": "db", "absent": False,
          "version": 1, "release_revision": 1, "sha256": "a" * 64, "rule": None}],
        ConnectionError("no endpoint answered: refused"),
        [],  # 304
        [{"tenant": "acme", "app": "shop", "env": "prod", "name": "db", "absent": False,
          "version": 2, "release_revision": 2, "sha256": "b" * 64, "rule": None}],
    ]  # fmt: skip
    held_seen: list[dict[str, str]] = []

    def fake_poll(client: Any, held: dict[str, str], *args: Any) -> Any:
        held_seen.append(dict(held))
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(watch_module, "poll_once", fake_poll)
    monkeypatch.setattr(watch_module.time, "sleep", lambda _: None)
    result = run("watch", "db", "--count", "2")
    assert result.exit_code == 0, result.stderr
    assert [line.split()[2] for line in result.stdout.splitlines()] == ["version=1", "version=2"]
    assert "watch interrupted (no endpoint answered: refused); retrying" in result.stderr
    # after the first answer the CLI tells the node what it holds, so nothing is missed
    assert held_seen[0] == {"acme/shop/prod/db": ""}
    assert held_seen[-1] == {"acme/shop/prod/db": "a" * 64}


def test_watch_with_no_node_exits_5(run: Cli) -> None:
    result = run("watch", "db", "--count", "1", env={"CONFLUX_ENDPOINTS": "http://127.0.0.1:9"})
    assert result.exit_code == 5
    assert result.stderr.startswith("error: unavailable: no endpoint answered")


def test_watch_ctrl_c_exits_0(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(watch_module, "poll_once", interrupted)
    result = run("watch", "db")
    assert result.exit_code == 0
    assert result.output == ""
