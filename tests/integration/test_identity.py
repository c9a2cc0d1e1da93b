"""Identity across real nodes: the leader bootstraps `admin` from CONFLUX_ADMIN_PASSWORD,
and a follower logs the admin in and verifies the token with the replicated key."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conflux.rest import ApiError, RestClient
from conflux_node.devcluster import LocalCluster, NodeProc
from tests.integration.conftest import dump_logs_on_failure, make_cluster

PASSWORD = "integration-Adm1n-pass"


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[LocalCluster]:
    c = make_cluster(tmp_path / "cluster")
    c.env = {"CONFLUX_ADMIN_PASSWORD": PASSWORD}
    c.start()
    try:
        c.wait_ready(timeout=30)
        yield c
    finally:
        c.stop()
        dump_logs_on_failure(c)


def wait_for_admin(cluster: LocalCluster, node: NodeProc, timeout: float = 30) -> None:
    """Wait until `node` has applied the bootstrap (asked without logging in)."""
    deadline = time.monotonic() + timeout
    while not cluster.is_bootstrapped(node):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{node.id} not bootstrapped after {timeout}s")
        time.sleep(0.2)


def test_login_on_a_follower_and_whoami(secured: LocalCluster) -> None:
    leader = secured.leader()
    follower = next(n for n in secured.nodes if n is not leader)
    client = RestClient(follower.url)  # no token: it is what logging in gets
    wait_for_admin(secured, follower)

    answer = client.post("/api/v1/auth/login", {"username": "admin", "password": PASSWORD})
    assert set(answer) == {"token", "expires_at"}
    bearer = {"Authorization": f"Bearer {answer['token']}"}
    # Any node verifies the token, the one that issued it and the others.
    for node in secured.nodes:
        _, me = RestClient(node.url).request("GET", "/api/v1/auth/whoami", headers=bearer)
        assert (me["subject"], me["kind"], me["system_admin"]) == ("admin", "user", True)

    with pytest.raises(ApiError) as wrong:
        client.post("/api/v1/auth/login", {"username": "admin", "password": "nope-nope"})
    assert wrong.value.status == 401

    for node in secured.nodes:
        text = node.log_path.read_text(errors="replace")
        assert PASSWORD not in text
        assert answer["token"] not in text
        assert "generated admin password" not in text
