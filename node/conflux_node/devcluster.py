"""A local cluster of real `conflux-node` processes on 127.0.0.1.

`make run` uses it to start three nodes, the integration tests use it to kill and
restart them, and the benchmark uses it as the system under test. Each node is a
separate OS process with its own data directory, talking Raft over TCP.

Every node gets `admin_password` as CONFLUX_ADMIN_PASSWORD, so the leader bootstraps the
user `admin` with it; `token()` logs that admin in and `client()` is a `RestClient` that
sends the token. `get()` stays unauthenticated, for the open routes (/health, /ready,
/metrics, /api/v1/cluster/self).
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conflux.rest import ApiError, RestClient

# The admin password of a LocalCluster unless told otherwise: for tests and benchmarks on
# 127.0.0.1 only (`make run` generates its own).
DEV_ADMIN_PASSWORD = "it-admin-password-0123"  # noqa: S105 - a local dev default
ADMIN_USER = "admin"
# A well-formed JWT that no node signed: `whoami` answers 503 with it until the cluster is
# bootstrapped (no signing key yet), 401 after. Probing with it costs no login attempt.
_PROBE_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwcm9iZSJ9.cHJvYmU"  # noqa: S105
_LOGIN_401_TRIES = 3  # the node allows 5 failed logins a minute per user and IP


@dataclass
class NodeProc:
    id: str
    raft_port: int
    http_port: int
    grpc_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    scheme: str = "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def spec(self) -> str:
        return f"{self.id}@127.0.0.1:{self.raft_port}@{self.url}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalCluster:
    root: Path
    size: int = 3
    raft_base: int = 7071
    http_base: int = 7081
    grpc_base: int = 7091
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    nodes: list[NodeProc] = field(default_factory=list)
    # Set when extra_args turn TLS on (--tls-cert-file ...): URLs become https:// and
    # `get` trusts this CA. Its helpers present no client certificate.
    ca_file: Path | None = None
    # Handed to every node as CONFLUX_ADMIN_PASSWORD; a CONFLUX_ADMIN_PASSWORD in `env`
    # wins over it (see `password`).
    admin_password: str = DEV_ADMIN_PASSWORD
    _token: str | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.nodes = [
            NodeProc(
                id=f"n{i + 1}",
                raft_port=self.raft_base + i,
                http_port=self.http_base + i,
                grpc_port=self.grpc_base + i,
                data_dir=self.root / f"n{i + 1}",
                log_path=self.root / f"n{i + 1}.log",
                scheme="http" if self.ca_file is None else "https",
            )
            for i in range(self.size)
        ]

    def command(self, node: NodeProc) -> list[str]:
        members = [arg for n in self.nodes for arg in ("--member", n.spec)]
        return [
            sys.executable, "-m", "conflux_node.main",
            "--node-id", node.id,
            "--data-dir", str(node.data_dir),
            "--http-port", str(node.http_port),
            "--grpc-port", str(node.grpc_port),
            "--raft-address", f"127.0.0.1:{node.raft_port}",
            *members,
            *self.extra_args,
        ]  # fmt: skip

    def start_node(self, node: NodeProc) -> None:
        if node.running:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        log = open(node.log_path, "ab")  # noqa: SIM115 - handed to the child process
        node.process = subprocess.Popen(
            self.command(node),
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env, "CONFLUX_ADMIN_PASSWORD": self.password},
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the nodes
        )
        log.close()

    def start(self) -> None:
        for node in self.nodes:
            self.start_node(node)

    def stop_node(self, node: NodeProc, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        if node.process is None:
            return
        if node.process.poll() is None:
            node.process.send_signal(sig)
            try:
                node.process.wait(timeout)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()
        node.process = None

    def kill_node(self, node: NodeProc) -> None:
        self.stop_node(node, signal.SIGKILL)

    def stop(self) -> None:
        for node in self.nodes:
            self.stop_node(node)

    def get(self, node: NodeProc, path: str, timeout: float = 2) -> Any:
        context = None if self.ca_file is None else ssl.create_default_context(cafile=self.ca_file)
        url = node.url + path
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:  # noqa: S310
            return json.loads(response.read())

    @property
    def password(self) -> str:
        """The nodes' admin password: `env`'s CONFLUX_ADMIN_PASSWORD, else `admin_password`."""
        return self.env.get("CONFLUX_ADMIN_PASSWORD", self.admin_password)

    def rest(self, *nodes: NodeProc, timeout: float = 5, token: str | None = None) -> RestClient:
        """A `RestClient` for `nodes` (default: all) trusting `ca_file`; no token unless given."""
        urls = [n.url for n in (nodes or self.nodes)]
        return RestClient(urls, timeout=timeout, ca_file=self.ca_file, token=token)

    def token(self, timeout: float = 30, *, refresh: bool = False) -> str:
        """The admin's session token: logged in on any ready node once, then cached.

        Retries while nodes are unreachable, have no leader or are not bootstrapped yet
        (503). A 401 from a bootstrapped node is retried a couple of times only: failed
        logins are rate-limited, and a wrong password will not get better.
        """
        if self._token is not None and not refresh:
            return self._token
        deadline = time.monotonic() + timeout
        body = {"username": ADMIN_USER, "password": self.password}
        last: Exception | None = None
        refused = 0
        while True:
            for node in [n for n in self.nodes if n.running]:
                if not self.is_bootstrapped(node):
                    continue
                try:
                    answer = self.rest(node, timeout=5).post("/api/v1/auth/login", body)
                except ApiError as error:
                    last = error
                    if error.status == 401:
                        refused += 1
                        if refused >= _LOGIN_401_TRIES:
                            raise PermissionError(
                                f"admin login refused by {node.id}: {error}; is "
                                "CONFLUX_ADMIN_PASSWORD the one the cluster was bootstrapped with?"
                            ) from None
                        time.sleep(1)
                    elif error.status not in (429, 503):
                        raise
                    continue
                except (ConnectionError, OSError, ValueError) as error:
                    last = error
                    continue
                self._token = str(answer["token"])
                return self._token
            if time.monotonic() > deadline:
                raise TimeoutError(f"no admin token after {timeout}s: {last}")
            time.sleep(0.2)

    def is_bootstrapped(self, node: NodeProc) -> bool:
        """Whether `node` has applied the bootstrap (it holds the token signing key).

        Asked with a token no node signed, so it costs no login attempt: `whoami` answers
        503 before the bootstrap and 401 after it.
        """
        probe = {"Authorization": f"Bearer {_PROBE_TOKEN}"}
        try:
            self.rest(node, timeout=2).request("GET", "/api/v1/auth/whoami", headers=probe)
        except ApiError as error:
            return error.status != 503
        except (ConnectionError, OSError, ValueError):
            return False
        return True

    def client(self, *nodes: NodeProc, timeout: float = 5) -> RestClient:
        """A `RestClient` for `nodes` (default: all) that sends the admin token."""
        return self.rest(*nodes, timeout=timeout, token=self.token())

    def is_ready(self, node: NodeProc) -> bool:
        try:
            self.get(node, "/ready", timeout=1)
        except (OSError, urllib.error.URLError, ValueError):
            return False
        return True

    def wait_ready(self, timeout: float = 30, nodes: list[NodeProc] | None = None) -> None:
        deadline = time.monotonic() + timeout
        pending = list(nodes or self.nodes)
        while pending:
            for node in [n for n in pending if not n.running]:
                tail = node.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{node.id} exited during start:\n{tail}")
            pending = [n for n in pending if not self.is_ready(n)]
            if pending and time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {[n.id for n in pending]}")
            time.sleep(0.1)

    def leader(self, timeout: float = 15) -> NodeProc:
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if not node.running:
                    continue
                try:
                    me = self.get(node, "/api/v1/cluster/self", timeout=1)
                except (OSError, ValueError):
                    continue
                if me.get("role") == "leader":
                    return node
            if time.monotonic() > deadline:
                raise TimeoutError("no leader")
            time.sleep(0.1)

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
