"""Watch against real node processes: gRPC streams and long-poll across nodes."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request
from typing import Any

import grpc

from conflux.rest import RestClient
from conflux.v1 import watch_pb2, watch_pb2_grpc
from conflux_node.devcluster import LocalCluster
from tests.integration.conftest import client_for, path

REF = watch_pb2.ConfigRef(tenant="it", app="app", env="prod", name="live")


def auth(cluster: LocalCluster) -> tuple[tuple[str, str], ...]:
    """gRPC metadata with the admin token."""
    return (("authorization", f"Bearer {cluster.token()}"),)


def seed(cluster: LocalCluster) -> RestClient:
    client = client_for(cluster)
    client.put(path("live"), {"format": "json"})
    for i in (1, 2, 3):
        client.post(path("live") + "/versions", {"content": json.dumps({"v": i})})
    client.put(path("live") + "/release", {"default_version": 1})
    return client


async def read_event(stream: Any, timeout: float = 5) -> Any:
    return await asyncio.wait_for(stream.read(), timeout)


def test_grpc_stream_on_a_follower_sees_writes_made_on_the_leader(cluster: LocalCluster) -> None:
    seed(cluster)
    leader = cluster.leader()
    follower = next(n for n in cluster.nodes if n is not leader)
    writer = client_for(cluster, leader)
    metadata = auth(cluster)

    async def scenario() -> None:
        async with grpc.aio.insecure_channel(follower.grpc_target) as channel:
            stub = watch_pb2_grpc.ConfluxWatchStub(channel)
            held = [watch_pb2.Held(config=REF)]
            canary = stub.Watch(
                watch_pb2.WatchRequest(configs=held, client_id="c1", labels={"zone": "a"}),
                metadata=metadata,
            )
            other = stub.Watch(
                watch_pb2.WatchRequest(configs=held, client_id="c2", labels={"zone": "b"}),
                metadata=metadata,
            )
            assert (await read_event(canary)).updates[0].version == 1
            assert (await read_event(other)).updates[0].version == 1
            rule = {"name": "canary", "match": {"labels": {"zone": "a"}}, "version": 2}
            await asyncio.to_thread(
                writer.put, path("live") + "/release", {"rules": [rule], "default_version": 1}
            )
            event = await read_event(canary)
            assert event.updates[0].version == 2 and event.updates[0].rule == "canary"
            # zone b is served the same as before: it hears nothing about the canary
            await asyncio.to_thread(writer.put, path("live") + "/release", {"default_version": 3})
            assert (await read_event(other)).updates[0].version == 3
            assert (await read_event(canary)).updates[0].version == 3
            canary.cancel()
            other.cancel()

    asyncio.run(scenario())


def test_long_poll_returns_when_another_node_publishes(cluster: LocalCluster) -> None:
    client = seed(cluster)
    watched, publisher = cluster.nodes[0], cluster.nodes[1]
    sha = client_for(cluster, watched).get("/api/v1/fetch/it/app/prod/live")["sha256"]
    result: dict[str, Any] = {}

    def poll() -> None:
        url = f"{watched.url}/api/v1/watch?config=it/app/prod/live:{sha}&wait=20"
        request = urllib.request.Request(url, headers=dict(auth(cluster)))
        started = time.monotonic()
        with urllib.request.urlopen(request, timeout=30) as response:
            result["status"] = response.status
            result["body"] = json.loads(response.read())
        result["waited"] = time.monotonic() - started

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.5)
    client_for(cluster, publisher).put(path("live") + "/release", {"default_version": 2})
    thread.join(25)
    assert result["status"] == 200
    assert result["body"]["updates"][0]["version"] == 2
    assert result["waited"] < 20  # answered by the change, not by the timeout
    assert client.get(path("live") + "/release")["revision"] == 2


def test_stream_ends_unavailable_when_its_node_dies(cluster: LocalCluster) -> None:
    seed(cluster)
    victim = cluster.nodes[2]

    async def scenario() -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(victim.grpc_target) as channel:
            stub = watch_pb2_grpc.ConfluxWatchStub(channel)
            request = watch_pb2.WatchRequest(configs=[watch_pb2.Held(config=REF)])
            stream = stub.Watch(request, metadata=auth(cluster))
            await read_event(stream)
            await asyncio.to_thread(cluster.kill_node, victim)
            try:
                await read_event(stream, 10)
            except grpc.aio.AioRpcError as error:
                return error.code()
            return grpc.StatusCode.OK

    assert asyncio.run(scenario()) == grpc.StatusCode.UNAVAILABLE
