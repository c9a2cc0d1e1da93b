"""Real node processes on 127.0.0.1, each with its own RocksDB and Raft journal.

Every call to a node goes with the admin's token (`client_for`, `cluster.token()`), and
configs live under tenants made first (`ensure_tenant`): the `cluster` fixture makes
tenant `it`, the one `path()` uses. Only the open routes (/health, /ready, /metrics,
/api/v1/cluster/self) are read without one, through `LocalCluster.get`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conflux.rest import ApiError, RestClient
from conflux_node.devcluster import LocalCluster, NodeProc

_lock = threading.Lock()
_next_base = [21000]


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_base(count: int) -> int:
    """A base port with `count` free ports after it, distinct per call."""
    with _lock:
        while True:
            base = _next_base[0]
            _next_base[0] += count + 7
            if all(_free(base + i) for i in range(count)):
                return base


def make_cluster(root: Path, size: int = 3, extra: tuple[str, ...] = ()) -> LocalCluster:
    base = free_base(3 * size)
    args = ("--election-min", "0.3", "--election-max", "0.9", *extra)
    return LocalCluster(
        root=root,
        size=size,
        raft_base=base,
        http_base=base + size,
        grpc_base=base + 2 * size,
        extra_args=args,
    )


TENANT = "it"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    """A ready 3-node cluster whose tenant `it` exists."""
    c = make_cluster(tmp_path / "cluster")
    c.start()
    try:
        c.wait_ready(timeout=30)
        ensure_tenant(client_for(c), TENANT)
        yield c
    finally:
        c.stop()
        dump_logs_on_failure(c)


def dump_logs_on_failure(c: LocalCluster) -> None:
    for node in c.nodes:
        if node.log_path.exists():
            text = node.log_path.read_text(errors="replace")
            if "Traceback" in text or "CRITICAL" in text:
                print(f"--- {node.id} log ---\n{text[-4000:]}")


def client_for(c: LocalCluster, *nodes: NodeProc) -> RestClient:
    """A client for `nodes` (default: all) that sends the admin token."""
    return c.client(*nodes, timeout=5)


def ensure_tenant(client: RestClient, name: str, timeout: float = 15) -> None:
    """Create tenant `name` unless it exists, retrying through a leader change."""
    try:
        until_written(client.post, "/api/v1/tenants", {"name": name}, timeout=timeout)
    except ApiError as error:
        if error.status != 409:  # it exists (maybe made by a retry whose answer was lost)
            raise


def path(name: str) -> str:
    return f"/api/v1/configs/{TENANT}/app/prod/{name}"


def digests(c: LocalCluster) -> dict[str, str]:
    return {n.id: digest_of(c, n)["digest"] for n in c.nodes if n.running}


def digest_of(c: LocalCluster, node: NodeProc) -> dict[str, Any]:
    """`{id, last_applied, digest, settled}` of one node (the route needs a credential)."""
    report: dict[str, Any] = c.client(node, timeout=5).get("/api/v1/cluster/digest")
    return report


def wait_converged(c: LocalCluster, timeout: float = 30) -> dict[str, Any]:
    """Wait until every running node has applied the same index with the same digest."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            reports = {n.id: digest_of(c, n) for n in c.nodes if n.running}
        except (OSError, ApiError):
            time.sleep(0.2)
            continue
        applied = {r["last_applied"] for r in reports.values()}
        found = {r["digest"] for r in reports.values()}
        last = reports
        if len(applied) == 1 and len(found) == 1:
            return reports
        time.sleep(0.2)
    raise AssertionError(f"nodes did not converge: {last}")


def post_version(client: RestClient, name: str, content: str, attempts: int = 40) -> Any:
    """Retry only while there is no leader; an outcome-unknown error is returned as None."""
    for _ in range(attempts):
        try:
            return client.post(path(name) + "/versions", {"content": content})
        except ApiError as error:
            if error.code == "no_leader":
                time.sleep(0.1)
                continue
            if error.status == 503:
                return None
            raise
        except ConnectionError:
            time.sleep(0.1)
    return None


def until_written(call: Any, *args: Any, timeout: float = 15) -> Any:
    """Retry a write while the cluster answers 503 (a leader change in progress)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call(*args)
        except ApiError as error:
            if error.status != 503 or time.monotonic() > deadline:
                raise
        except ConnectionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.1)
