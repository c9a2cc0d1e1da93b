"""Raft traffic encrypted with a shared secret: members that share it replicate, a
member with another secret is kept out."""

from __future__ import annotations

import time
from pathlib import Path

from tests.integration.conftest import (
    TENANT,
    client_for,
    ensure_tenant,
    make_cluster,
    path,
    wait_converged,
)

SECRET = "one-shared-raft-secret-for-tests"


def test_members_with_the_secret_replicate_and_a_stranger_cannot_join(tmp_path: Path) -> None:
    cluster = make_cluster(tmp_path / "c")
    cluster.env["CONFLUX_RAFT_SECRET"] = SECRET
    stranger = cluster.nodes[2]
    cluster.start_node(cluster.nodes[0])
    cluster.start_node(cluster.nodes[1])
    cluster.env["CONFLUX_RAFT_SECRET"] = "some-other-secret-entirely-x"
    cluster.start_node(stranger)
    try:
        cluster.wait_ready(timeout=30, nodes=cluster.nodes[:2])
        client = client_for(cluster, *cluster.nodes[:2])
        ensure_tenant(client, TENANT)
        client.put(path("sealed"), {"format": "text"})
        client.post(path("sealed") + "/versions", {"content": "hello"})
        time.sleep(2)
        assert not cluster.is_ready(stranger)
        assert cluster.get(stranger, "/api/v1/cluster/self")["last_applied"] <= 1
        cluster.stop_node(stranger)
        cluster.env["CONFLUX_RAFT_SECRET"] = SECRET
        cluster.start_node(stranger)
        cluster.wait_ready(timeout=30)
        wait_converged(cluster)
        assert client_for(cluster, stranger).get(path("sealed"))["latest_version"] == 1
    finally:
        cluster.stop()
