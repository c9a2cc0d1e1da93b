"""A local cluster of real `conflux-node` processes on 127.0.0.1.

`make run` uses it to start three nodes, the integration tests use it to kill and
restart them, and the benchmark uses it as the system under test. Each node is a
separate OS process with its own data directory, talking Raft over TCP.
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
            env={**os.environ, **self.env},
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
