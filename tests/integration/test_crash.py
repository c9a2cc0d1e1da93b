"""Crash safety with real processes: SIGKILL under load, restarts during elections.

Every version a node acknowledged must exist afterwards, with the same content hash,
on every node; and every node must end with the same state digest.
"""

from __future__ import annotations

import random
import threading
import time
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


class Writer(threading.Thread):
    """Writes versions to its own config until stopped; remembers what was acknowledged."""

    def __init__(self, cluster: LocalCluster, name: str) -> None:
        super().__init__(daemon=True)
        self.client = client_for(cluster)
        self.name_ = name
        self.acked: dict[int, str] = {}
        self.stop = threading.Event()
        self.sent = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.sent += 1
            result = post_version(self.client, self.name_, f"{self.name_} write {self.sent}")
            if result is not None:
                self.acked[result["version"]] = result["sha256"]


def check_acknowledged(cluster: LocalCluster, writers: list[Writer]) -> None:
    for node in cluster.nodes:
        client = client_for(cluster, node)
        for writer in writers:
            for version, sha in writer.acked.items():
                got = client.get(f"{path(writer.name_)}/versions/{version}")
                assert got["sha256"] == sha, (node.id, writer.name_, version)


def start_writers(cluster: LocalCluster, count: int) -> list[Writer]:
    client = client_for(cluster)
    ensure_tenant(client, TENANT)  # the `cluster` fixture made it; a bare cluster has not
    writers = [Writer(cluster, f"w{i}") for i in range(count)]
    for writer in writers:
        client.put(path(writer.name_), {"format": "text"})
        writer.start()
    return writers


def stop_writers(writers: list[Writer]) -> None:
    for writer in writers:
        writer.stop.set()
    for writer in writers:
        writer.join(30)


def test_sigkill_leader_during_writes_loses_nothing(cluster: LocalCluster) -> None:
    writers = start_writers(cluster, 4)
    time.sleep(1.5)
    leader = cluster.leader()
    term_before = cluster.get(leader, "/api/v1/cluster/self")["term"]
    cluster.kill_node(leader)
    time.sleep(2.5)  # the survivors elect a leader and keep taking writes
    new_leader = cluster.leader()
    assert new_leader is not leader
    cluster.start_node(leader)
    time.sleep(1.0)
    stop_writers(writers)
    cluster.wait_ready(timeout=30)
    wait_converged(cluster)
    assert cluster.get(leader, "/api/v1/cluster/self")["term"] > term_before
    assert sum(len(w.acked) for w in writers) > 50
    check_acknowledged(cluster, writers)


def test_soak_with_restarts_ends_with_equal_digests(tmp_path: Path) -> None:
    """Random SIGKILLs and SIGTERMs (leader or not, sometimes two nodes in quick
    succession so elections are interrupted) under a steady stream of writes, with a
    small compaction threshold so snapshots are taken and shipped along the way."""
    cluster = make_cluster(tmp_path / "soak", extra=("--compaction-min-entries", "200"))
    rng = random.Random(7)
    terms: dict[str, int] = {}
    with cluster:
        cluster.wait_ready(timeout=30)
        writers = start_writers(cluster, 3)
        for _round in range(6):
            time.sleep(rng.uniform(0.8, 1.6))
            victim = cluster.leader() if rng.random() < 0.5 else rng.choice(cluster.nodes)
            terms[victim.id] = cluster.get(victim, "/api/v1/cluster/self")["term"]
            if rng.random() < 0.5:
                cluster.kill_node(victim)
            else:
                cluster.stop_node(victim)
            time.sleep(rng.uniform(0.2, 1.0))
            cluster.start_node(victim)
            # a durable vote and term: a restarted node never goes back in term
            cluster.wait_ready(timeout=30, nodes=[victim])
            assert cluster.get(victim, "/api/v1/cluster/self")["term"] >= terms[victim.id]
        stop_writers(writers)
        wait_converged(cluster, timeout=60)
        check_acknowledged(cluster, writers)
        assert sum(len(w.acked) for w in writers) > 100
        for node in cluster.nodes:
            assert "state machine may have diverged" not in node.log_path.read_text()


def test_restarts_during_elections_keep_terms_and_writes(cluster: LocalCluster) -> None:
    """Kill the leader, then crash and restart a follower while the survivors are still
    electing: votes and terms are durable, so no term goes back and nothing acked is lost."""
    writers = start_writers(cluster, 2)
    for _ in range(3):
        time.sleep(0.8)
        leader = cluster.leader()
        terms = {n.id: cluster.get(n, "/api/v1/cluster/self")["term"] for n in cluster.nodes}
        cluster.kill_node(leader)
        follower = next(n for n in cluster.nodes if n.running)
        time.sleep(0.1)  # inside the election timeout: the election is under way
        cluster.kill_node(follower)
        cluster.start_node(follower)
        cluster.start_node(leader)
        cluster.wait_ready(timeout=30)
        for node in cluster.nodes:
            assert cluster.get(node, "/api/v1/cluster/self")["term"] >= terms[node.id]
    stop_writers(writers)
    wait_converged(cluster)
    assert sum(len(w.acked) for w in writers) > 20
    check_acknowledged(cluster, writers)
