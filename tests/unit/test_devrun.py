"""`make run` helpers: the dev admin password and token files, and the demo seed."""

from __future__ import annotations

import socket
import stat
from pathlib import Path
from typing import Any

from conflux.rest import ApiError
from conflux_node.devcluster import LocalCluster
from conflux_node.devrun import DEMO, busy_ports, dev_password, seed, write_token


def test_dev_password_is_made_once_and_private(tmp_path: Path) -> None:
    first = dev_password(tmp_path)
    assert len(first) >= 20
    assert dev_password(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "admin-password").stat().st_mode) == 0o600


class FlakyLogin:
    """Answers 401 until the bootstrap 'happened', then a token."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[Any] = []
        self.token: str | None = None

    def post(self, path: str, body: Any) -> Any:
        self.bodies.append(body)
        if self.failures:
            self.failures -= 1
            raise ApiError(401, "unauthenticated", "no", {})
        return {"token": "tok-123", "expires_at": "later"}


def test_write_token_retries_while_bootstrapping(tmp_path: Path) -> None:
    client = FlakyLogin(failures=2)
    path = write_token(client, tmp_path, "pw")  # type: ignore[arg-type]
    assert path == tmp_path / "token"
    assert path.read_text() == "tok-123\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert client.bodies == [{"username": "admin", "password": "pw"}] * 3
    assert client.token == "tok-123"  # what the seeding after the login sends


def test_write_token_gives_up_on_a_wrong_password(tmp_path: Path) -> None:
    client = FlakyLogin(failures=10**6)
    assert write_token(client, tmp_path, "pw", wait=0.5) is None  # type: ignore[arg-type]
    assert not (tmp_path / "token").exists()
    assert client.token is None


class FakeApi:
    """Records calls; `tenants` and `paths` are what exists already."""

    def __init__(self, tenants: set[str], paths: set[str]) -> None:
        self.tenants, self.paths = tenants, paths
        self.calls: list[tuple[str, str]] = []

    def get(self, path: str) -> Any:
        self.calls.append(("GET", path))
        if path not in self.paths:
            raise ApiError(404, "config_not_found", "no", {})
        return {}

    def put(self, path: str, body: Any) -> Any:
        self.calls.append(("PUT", path))
        self.paths.add(path)
        return {}

    def post(self, path: str, body: Any) -> Any:
        self.calls.append(("POST", path))
        if path == "/api/v1/tenants":
            if body["name"] in self.tenants:
                raise ApiError(409, "conflict", "tenant demo exists", {})
            self.tenants.add(body["name"])
            return body
        return {"version": 1}


def test_seed_creates_the_demo_tenant_before_its_config() -> None:
    api = FakeApi(tenants=set(), paths=set())
    seed(api)  # type: ignore[arg-type]
    assert api.tenants == {"demo"}
    assert api.calls == [
        ("POST", "/api/v1/tenants"),
        ("GET", DEMO),
        ("PUT", DEMO),
        ("GET", DEMO + "/release"),
        ("POST", DEMO + "/versions"),
        ("PUT", DEMO + "/release"),
    ]


def test_seed_again_keeps_what_exists() -> None:
    api = FakeApi(tenants={"demo"}, paths={DEMO, DEMO + "/release"})
    seed(api)  # type: ignore[arg-type]
    assert api.calls == [("POST", "/api/v1/tenants"), ("GET", DEMO), ("GET", DEMO + "/release")]


def test_busy_ports_are_reported(tmp_path: Path) -> None:
    cluster = LocalCluster(root=tmp_path, raft_base=0, http_base=0, grpc_base=0, size=1)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        cluster.nodes[0].http_port = port
        assert port in busy_ports(cluster)
    assert busy_ports(cluster) == []
