"""The gRPC Watch stream, in-process: initial answer, a change, a bad request."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import grpc
import pytest
from aiohttp.test_utils import TestClient, TestServer

from conflux.v1 import watch_pb2, watch_pb2_grpc
from conflux_node.api.context import HUB
from conflux_node.api.grpc_watch import peer_ip, start_grpc
from tests.unit.api.conftest import C, make_app, setup_config

REF = watch_pb2.ConfigRef(tenant="acme", app="shop", env="prod", name="db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_stream_answers_then_follows_changes() -> None:
    async with TestClient(TestServer(make_app())) as client:
        await setup_config(client, ['{"v": 1}', '{"v": 2}'])
        await client.put(C + "/release", json={"default_version": 1})
        port = free_port()
        server = await start_grpc(client.app[HUB], "127.0.0.1", port)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = watch_pb2_grpc.ConfluxWatchStub(channel)
                request = watch_pb2.WatchRequest(
                    configs=[watch_pb2.Held(config=REF)], client_id="pod-1"
                )
                stream: Any = stub.Watch(request)
                first = await asyncio.wait_for(stream.read(), 5)
                assert first.updates[0].version == 1 and not first.updates[0].absent
                await client.put(C + "/release", json={"default_version": 2})
                second = await asyncio.wait_for(stream.read(), 5)
                assert second.updates[0].version == 2
                assert second.updates[0].content == '{"v": 2}'
                stream.cancel()
        finally:
            await server.stop(None)


async def test_bad_names_are_invalid_argument() -> None:
    async with TestClient(TestServer(make_app())) as client:
        port = free_port()
        server = await start_grpc(client.app[HUB], "127.0.0.1", port)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = watch_pb2_grpc.ConfluxWatchStub(channel)
                bad = watch_pb2.ConfigRef(tenant="Bad", app="a", env="e", name="n")
                stream: Any = stub.Watch(
                    watch_pb2.WatchRequest(configs=[watch_pb2.Held(config=bad)])
                )
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await asyncio.wait_for(stream.read(), 5)
                assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        finally:
            await server.stop(None)


def test_peer_ip() -> None:
    assert peer_ip("ipv4:127.0.0.1:5050") == "127.0.0.1"
    assert peer_ip("ipv6:[::1]:5050") == "::1"
    assert peer_ip("unix:/tmp/sock") is None
