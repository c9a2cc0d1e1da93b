"""Identity across real nodes: the leader bootstraps `admin` from CONFLUX_ADMIN_PASSWORD,
and a follower logs the admin in and verifies the token with the replicated key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conflux.rest import ApiError, RestClient
from conflux_node.devcluster import LocalCluster, NodeProc
from tests.integration.conftest import dump_logs_on_failure, make_cluster, wait_converged

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


def wait_status(call: Callable[[], Any], status: int, timeout: float = 10) -> None:
    """Wait until `call` fails with `status` (a change applied on another node)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            call()
        except ApiError as error:
            if error.status == status:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"no {status} within {timeout}s")
        time.sleep(0.1)


def test_keys_are_tenant_bound_and_revocation_reaches_every_node(secured: LocalCluster) -> None:
    leader = secured.leader()
    follower = next(n for n in secured.nodes if n is not leader)
    wait_for_admin(secured, follower)
    admin = RestClient([leader.url], token=secured.token())
    for tenant in ("alpha", "beta"):
        admin.post("/api/v1/tenants", {"name": tenant})
    config = "/api/v1/configs/alpha/shop/prod/db"
    admin.put(config, {"format": "json"})
    admin.post(config + "/versions", {"content": '{"pool": 5}'})
    admin.put(config + "/release", {"default_version": 1})
    alpha = admin.post("/api/v1/tenants/alpha/apikeys", {"name": "svc", "role": "client"})
    beta = admin.post("/api/v1/tenants/beta/apikeys", {"name": "svc", "role": "client"})

    fetch = "/api/v1/fetch/alpha/shop/prod/db"
    on_follower = RestClient([follower.url], token=alpha["key"])
    until = time.monotonic() + 10
    while True:  # the follower applies the key shortly after the leader
        try:
            assert on_follower.get(fetch)["content"] == '{"pool": 5}'
            break
        except ApiError as error:
            if time.monotonic() > until:
                raise AssertionError(f"the follower never accepted the key: {error}") from None
            time.sleep(0.1)
    with pytest.raises(ApiError) as other:
        RestClient([follower.url], token=beta["key"]).get(fetch)
    assert other.value.status == 403

    admin.delete(f"/api/v1/tenants/alpha/apikeys/{alpha['id']}")
    wait_status(lambda: on_follower.get(fetch), 401)

    audit = RestClient([follower.url], token=secured.token())
    deadline = time.monotonic() + 10
    while not audit.get("/api/v1/audit", actor=f"apikey:{beta['id']}")["items"]:
        assert time.monotonic() < deadline, "the denial never reached the follower's audit log"
        time.sleep(0.1)
    for node in secured.nodes:
        text = node.log_path.read_text(errors="replace")
        for secret in (alpha["key"], beta["key"], secured.token(), PASSWORD):
            assert secret not in text


def test_audit_retention_prunes_alike_on_every_node(secured: LocalCluster) -> None:
    leader = secured.leader()
    admin = RestClient([leader.url], token=secured.token())
    admin.put("/api/v1/audit/retention", {"keep_last": 5})
    for i in range(12):
        admin.post("/api/v1/tenants", {"name": f"t{i}"})
    reports = wait_converged(secured)
    assert len({r["digest"] for r in reports.values()}) == 1
    for node in secured.nodes:
        items = RestClient([node.url], token=secured.token()).get("/api/v1/audit")["items"]
        assert [r["target"] for r in items] == [f"tenant/t{i}" for i in range(7, 12)]
