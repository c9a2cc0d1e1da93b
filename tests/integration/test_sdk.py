"""The SDK against real node processes: push latency bound, canaries, failover, the disk
cache with every node down, and the poller when the stream cannot connect."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import time
from pathlib import Path

from conflux import ChangeEvent, ConfluxClient
from conflux.rest import RestClient
from conflux_node.devcluster import LocalCluster
from tests.integration.conftest import client_for, path, until_written


def seed(cluster: LocalCluster, versions: int = 3) -> RestClient:
    admin = client_for(cluster)
    admin.put(path("svc"), {"format": "json"})
    for i in range(1, versions + 1):
        admin.post(path("svc") + "/versions", {"content": json.dumps({"pool": {"size": i}})})
    admin.put(path("svc") + "/release", {"default_version": 1})
    return admin


def sdk(cluster: LocalCluster, tmp_path: Path, **kwargs: object) -> ConfluxClient:
    options: dict[str, object] = {
        "token": cluster.token(),
        "grpc_endpoints": [n.grpc_target for n in cluster.nodes],
        "cache_dir": str(tmp_path / "cache"),
        "poll_interval": None,
    }
    options.update(kwargs)
    return ConfluxClient([n.url for n in cluster.nodes], "it", "app", "prod", **options)  # type: ignore[arg-type]


def next_event(events: queue.Queue[ChangeEvent], timeout: float) -> ChangeEvent:
    return events.get(timeout=timeout)


def test_a_release_reaches_the_callback_within_a_second(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    admin = seed(cluster)
    events: queue.Queue[ChangeEvent] = queue.Queue()
    with sdk(cluster, tmp_path, client_id="pod-1") as client:
        view = client.config("svc")
        assert view.get_int("pool.size") == 1
        client.on_change(events.put, "svc")
        time.sleep(0.3)  # the stream is open
        admin.put(path("svc") + "/release", {"default_version": 2})
        event = next_event(events, timeout=1.0)
        assert event.new is not None and event.new.get_int("pool.size") == 2
        assert "pool.size" in event.changed_keys
        assert view.get_int("pool.size") == 2


def test_a_canary_notifies_only_matching_clients(cluster: LocalCluster, tmp_path: Path) -> None:
    admin = seed(cluster)
    got_a: queue.Queue[ChangeEvent] = queue.Queue()
    got_b: queue.Queue[ChangeEvent] = queue.Queue()
    with (
        sdk(cluster, tmp_path / "a", client_id="a", labels={"zone": "a"}) as zone_a,
        sdk(cluster, tmp_path / "b", client_id="b", labels={"zone": "b"}) as zone_b,
    ):
        zone_a.config("svc")
        zone_b.config("svc")
        zone_a.on_change(got_a.put)
        zone_b.on_change(got_b.put)
        time.sleep(0.3)
        rule = {"name": "canary", "match": {"labels": {"zone": "a"}}, "version": 3}
        admin.put(path("svc") + "/release", {"rules": [rule], "default_version": 1})
        assert next_event(got_a, 2.0).new.get_int("pool.size") == 3  # type: ignore[union-attr]
        time.sleep(1.0)
        assert got_b.empty()
        assert zone_b.config("svc").get_int("pool.size") == 1


def test_failover_when_the_connected_node_dies(cluster: LocalCluster, tmp_path: Path) -> None:
    admin = seed(cluster)
    events: queue.Queue[ChangeEvent] = queue.Queue()
    with sdk(cluster, tmp_path, client_id="pod-f") as client:
        client.config("svc")
        client.on_change(events.put)
        admin.put(path("svc") + "/release", {"default_version": 2})
        next_event(events, 3.0)
        connected = client.connected_to
        victim = next(n for n in cluster.nodes if n.grpc_target == connected)
        cluster.kill_node(victim)
        survivor = next(n for n in cluster.nodes if n.running)
        until_written(
            client_for(cluster, survivor).put, path("svc") + "/release", {"default_version": 3}
        )
        event = next_event(events, 10.0)
        assert event.new is not None and event.new.get_int("pool.size") == 3
        assert client.connected_to != connected


START_FROM_CACHE = """
import os
import sys
from conflux import ConfluxClient
endpoints = sys.argv[1].split(",")
with ConfluxClient(endpoints, "it", "app", "prod", cache_dir=sys.argv[2],
                   grpc_endpoints=sys.argv[3].split(","), poll_interval=None, timeout=1.0,
                   token=os.environ["IT_CONFLUX_TOKEN"]) as c:
    print(c.config("svc").get_int("pool.size"))
"""


def test_a_new_process_starts_from_the_disk_cache_with_every_node_down(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    admin = seed(cluster)
    admin.put(path("svc") + "/release", {"default_version": 2})
    with sdk(cluster, tmp_path) as client:
        assert client.config("svc").get_int("pool.size") == 2
    cluster.stop()
    args = [",".join(n.url for n in cluster.nodes), str(tmp_path / "cache"),
            ",".join(n.grpc_target for n in cluster.nodes)]  # fmt: skip
    env = {**os.environ, "IT_CONFLUX_TOKEN": cluster.token()}
    started = subprocess.run(
        [sys.executable, "-c", START_FROM_CACHE, *args],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    assert started.stdout.strip() == "2"


def test_the_poller_catches_up_when_the_stream_cannot_connect(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    admin = seed(cluster)
    events: queue.Queue[ChangeEvent] = queue.Queue()
    dead_grpc = ["127.0.0.1:9"]  # nothing listens: the watcher never connects
    with sdk(cluster, tmp_path, grpc_endpoints=dead_grpc, poll_interval=0.5) as client:
        client.config("svc")
        client.on_change(events.put)
        admin.put(path("svc") + "/release", {"default_version": 3})
        event = next_event(events, 5.0)
        assert event.new is not None and event.new.get_int("pool.size") == 3
