"""The `conflux` CLI as subprocesses against a real 3-node cluster."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conflux.rest import ApiError
from conflux_node.devcluster import LocalCluster, NodeProc
from tests.integration.conftest import client_for

CONFLUX = str(Path(sys.executable).parent / "conflux")


def cli_env(cluster: LocalCluster, tmp_path: Path, *nodes: NodeProc) -> dict[str, str]:
    """The environment of a `conflux` subprocess: these endpoints, tenant `it`, the admin."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUX_")}
    env.update(
        HOME=str(tmp_path),
        CONFLUX_TOKEN=cluster.token(),
        CONFLUX_ENDPOINTS=",".join(n.url for n in nodes),
        CONFLUX_TENANT="it",
        CONFLUX_APP="app",
        CONFLUX_ENV="prod",
        COLUMNS="200",
    )
    return env


def conflux(
    env: dict[str, str], *args: str, input: str | None = None, code: int = 0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [CONFLUX, *args], input=input, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def as_json(env: dict[str, str], *args: str) -> Any:
    return json.loads(conflux(env, *args, "-o", "json").stdout)


def test_config_and_release_workflow(cluster: LocalCluster, tmp_path: Path) -> None:
    env = cli_env(cluster, tmp_path, *cluster.nodes)
    assert "created config db" in conflux(env, "config", "create", "db", "--format", "json").stdout
    first = tmp_path / "v1.json"
    first.write_text('{"pool": 5}\n')
    out = conflux(env, "config", "push", "db", str(first), "-m", "initial").stdout
    assert out.startswith("created version 1 ")
    assert conflux(env, "config", "push", "db", str(first)).stdout.strip() == (
        "unchanged (same as version 1)"
    )
    conflux(env, "config", "push", "db", "-", input='{"pool": 10}\n')
    assert conflux(env, "config", "get", "db", "--version", "1").stdout == '{"pool": 5}\n'
    assert [v["version"] for v in as_json(env, "config", "versions", "db")] == [2, 1]
    diff = conflux(env, "config", "diff", "db", "1", "2").stdout.splitlines()
    assert diff[:2] == ["--- db@1", "+++ db@2"] and '+{"pool": 10}' in diff
    assert [c["name"] for c in as_json(env, "config", "list")] == ["db"]

    conflux(env, "release", "set", "db", "--default", "1",
            "--rule", "canary=2", "--match", "canary:labels.zone=a")  # fmt: skip
    canary = as_json(env, "fetch", "db", "--label", "zone=a")
    assert (canary["version"], canary["rule"]) == (2, "canary")
    assert as_json(env, "fetch", "db", "--label", "zone=b")["version"] == 1
    assert conflux(env, "fetch", "db", "--raw", "--label", "zone=a").stdout == '{"pool": 10}\n'

    # promote, then roll back to the canary release
    conflux(env, "release", "set", "db", "--default", "2", "--if-match", "1")
    stale = conflux(env, "release", "set", "db", "--default", "1", "--if-match", "1", code=4)
    assert stale.stderr.startswith("error: revision_mismatch: ")
    assert [r["revision"] for r in as_json(env, "release", "history", "db")] == [2, 1]
    out = conflux(env, "release", "rollback", "db").stdout
    assert out.startswith("rolled back db to revision 1 as revision 3")
    assert as_json(env, "fetch", "db", "--label", "zone=b")["version"] == 1

    missing = conflux(env, "config", "get", "nope", code=3)
    assert missing.stderr.startswith("error: config_not_found: ")
    conflux(env, "config", "delete", "db", "--yes")
    conflux(env, "config", "show", "db", code=3)


def test_cluster_status_writes_via_a_follower_and_failover(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    leader = cluster.leader()
    followers = [n for n in cluster.nodes if n is not leader]
    status = as_json(cli_env(cluster, tmp_path, followers[0]), "cluster", "status")
    assert status["leader"] == leader.id and status["self"] == followers[0].id
    assert sorted(m["role"] for m in status["members"]) == ["follower", "follower", "leader"]
    table = conflux(cli_env(cluster, tmp_path, followers[0]), "cluster", "status").stdout
    assert f"leader: {leader.id} · 3/3 healthy" in table

    only_follower = cli_env(cluster, tmp_path, followers[0])
    conflux(only_follower, "config", "create", "cfg", "--format", "text")
    conflux(only_follower, "config", "push", "cfg", "-", input="hello")
    assert conflux(only_follower, "config", "get", "cfg").stdout == "hello"

    # the first endpoint is dead: the CLI moves on to the next
    cluster.kill_node(followers[0])
    failover = cli_env(cluster, tmp_path, followers[0], followers[1], leader)
    deadline = time.monotonic() + 15
    while True:  # the surviving follower may lag the write by a moment
        result = subprocess.run([CONFLUX, "config", "get", "cfg"], env=failover,
                                capture_output=True, text=True, timeout=60)  # fmt: skip
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert (result.returncode, result.stdout) == (0, "hello"), result.stderr

    dead = conflux(cli_env(cluster, tmp_path, followers[0]), "config", "list", code=5)
    assert dead.stderr.startswith("error: unavailable: no endpoint answered")


def test_settings_file_and_flag_precedence(cluster: LocalCluster, tmp_path: Path) -> None:
    config = tmp_path / "conflux.toml"
    endpoints = ", ".join(f'"{n.url}"' for n in cluster.nodes)
    token = cluster.token()
    config.write_text(
        f'endpoints = [{endpoints}]\ntenant = "it"\napp = "app"\nenv = "prod"\ntoken = "{token}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFLUX_")}
    env["HOME"] = str(tmp_path)
    conflux(env, "--config", str(config), "--token", token, "config", "create", "x",
            "--format", "yaml")  # fmt: skip
    env["CONFLUX_CONFIG_FILE"] = str(config)
    assert [c["name"] for c in as_json(env, "config", "list")] == ["x"]
    # a flag beats the file: this env does not exist
    assert as_json(env, "config", "list", "--env", "staging") == []
    usage = conflux(env, "config", "list", "--config", str(tmp_path / "missing.toml"), code=2)
    assert "does not exist" in usage.stderr


def test_shell_completion_script(tmp_path: Path) -> None:
    env = {**os.environ, "_CONFLUX_COMPLETE": "bash_source", "HOME": str(tmp_path)}
    result = subprocess.run([CONFLUX], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "complete -o nosort -F _conflux_completion conflux" in result.stdout


def watch_supported(cluster: LocalCluster, node: NodeProc) -> bool:
    try:
        client_for(cluster, node).get("/api/v1/watch", config="it/app/prod/none:", wait="1")
    except ApiError as error:
        return error.code != "route_not_found"
    return True


def test_watch_follows_a_release_and_ctrl_c_exits_0(cluster: LocalCluster, tmp_path: Path) -> None:
    if not watch_supported(cluster, cluster.nodes[0]):
        pytest.skip("the node has no GET /api/v1/watch yet (404 route_not_found)")
    env = cli_env(cluster, tmp_path, *cluster.nodes)
    conflux(env, "config", "create", "w", "--format", "json")
    conflux(env, "config", "push", "w", "-", input='{"a": 1}')
    conflux(env, "config", "push", "w", "-", input='{"a": 2}')
    conflux(env, "release", "set", "w", "--default", "1")

    proc = subprocess.Popen(
        [CONFLUX, "watch", "w", "--client-id", "pod-1", "-o", "json", "--wait", "5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        first = json.loads(lines.get(timeout=15))
        assert (first["name"], first["version"], first["absent"]) == ("w", 1, False)
        conflux(env, "release", "set", "w", "--default", "1",
                "--rule", "pod=2", "--match", "pod:client=pod-1")  # fmt: skip
        started = time.monotonic()
        change = json.loads(lines.get(timeout=15))
        assert time.monotonic() - started < 2
        assert (change["version"], change["rule"], change["content"]) == (2, "pod", '{"a": 2}')
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
