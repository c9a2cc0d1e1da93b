"""Replication across real processes: writes to any node, restarts, snapshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conflux_node.devcluster import LocalCluster
from tests.integration.conftest import (
    TENANT,
    client_for,
    ensure_tenant,
    make_cluster,
    path,
    post_version,
    wait_converged,
)


def test_write_to_follower_replicates_everywhere(cluster: LocalCluster) -> None:
    leader = cluster.leader()
    follower = next(n for n in cluster.nodes if n is not leader)
    client = client_for(cluster, follower)
    client.put(path("cfg"), {"format": "json"})
    created = client.post(path("cfg") + "/versions", {"content": '{"x": 1}'})
    assert created["created"] is True
    client.put(path("cfg") + "/release", {"default_version": created["version"]})
    # The follower answered only after applying the write itself: read-your-writes there.
    assert client.get(path("cfg"))["latest_version"] == 1
    wait_converged(cluster)
    for node in cluster.nodes:
        fetched = client_for(cluster, node).get("/api/v1/fetch/it/app/prod/cfg")
        assert fetched["content"] == '{"x": 1}'
    status = client_for(cluster, follower).get("/api/v1/cluster/status")
    assert status["leader"] == leader.id
    assert sorted(m["role"] for m in status["members"]) == ["follower", "follower", "leader"]
    assert all(m["healthy"] for m in status["members"])


def test_full_restart_keeps_all_data(cluster: LocalCluster) -> None:
    client = client_for(cluster)
    client.put(path("keep"), {"format": "json"})
    acked = [post_version(client, "keep", json.dumps({"i": i})) for i in range(30)]
    client.put(path("keep") + "/release", {"default_version": 30})
    before = wait_converged(cluster)
    cluster.stop()
    cluster.start()
    cluster.wait_ready(timeout=30)
    after = wait_converged(cluster)
    assert {r["digest"] for r in after.values()} == {r["digest"] for r in before.values()}
    versions = client_for(cluster).get(path("keep") + "/versions", limit="100")["items"]
    assert [v["sha256"] for v in reversed(versions)] == [a["sha256"] for a in acked]


def test_wiped_node_catches_up_from_a_snapshot(tmp_path: Path) -> None:
    cluster = make_cluster(tmp_path / "c", extra=("--compaction-min-entries", "40"))
    with cluster:
        cluster.wait_ready(timeout=30)
        client = client_for(cluster)
        ensure_tenant(client, TENANT)
        client.put(path("snap"), {"format": "text"})
        for i in range(150):
            post_version(client, "snap", f"line {i}")
        wait_converged(cluster)
        victim = next(n for n in cluster.nodes if n is not cluster.leader())
        cluster.stop_node(victim)
        shutil.rmtree(victim.data_dir)
        for i in range(150, 170):
            post_version(client, "snap", f"line {i}")
        cluster.start_node(victim)
        cluster.wait_ready(timeout=30, nodes=[victim])
        wait_converged(cluster)
        assert "restoring state from snapshot" in victim.log_path.read_text()
        latest = client_for(cluster, victim).get(path("snap"))["latest_version"]
        assert latest == 170
