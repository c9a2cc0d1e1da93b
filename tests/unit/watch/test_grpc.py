"""The gRPC Watch stream, in-process: initial answer, a change, bad requests, and access:
no credential, another tenant's key, and a key revoked while its stream is open."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest

from conflux.v1 import watch_pb2, watch_pb2_grpc
from conflux_node.api.context import ACCESS, HUB
from conflux_node.api.grpc_watch import peer_ip, start_grpc
from tests.unit.api.conftest import (
    STORE,
    TOKEN,
    C,
    Client,
    authed,
    make_app,
    setup_config,
    token_for,
)

REF = watch_pb2.ConfigRef(tenant="acme", app="shop", env="prod", name="db")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def auth(token: str) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {token}")]


def request(ref: watch_pb2.ConfigRef = REF) -> watch_pb2.WatchRequest:
    return watch_pb2.WatchRequest(configs=[watch_pb2.Held(config=ref)], client_id="pod-1")


@pytest.fixture
async def served() -> AsyncIterator[tuple[Client, Any]]:
    """A node with acme/shop/prod/db released at version 1, and a gRPC stub to it."""
    async with authed(make_app()) as client:
        await setup_config(client, ['{"v": 1}', '{"v": 2}'])
        await client.put(C + "/release", json={"default_version": 1})
        port = free_port()
        server = await start_grpc(client.app[HUB], client.app[ACCESS], "127.0.0.1", port)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                yield client, watch_pb2_grpc.ConfluxWatchStub(channel)
        finally:
            await server.stop(None)


async def code_of(stream: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await asyncio.wait_for(stream.read(), 5)
    code: grpc.StatusCode = info.value.code()
    return code


async def new_key(client: Client, tenant: str, role: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/tenants/{tenant}/apikeys", json={"name": f"svc-{role}", "role": role}
    )
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def test_stream_answers_then_follows_changes(served: tuple[Client, Any]) -> None:
    client, stub = served
    stream: Any = stub.Watch(request(), metadata=auth(client.app[TOKEN]))
    first = await asyncio.wait_for(stream.read(), 5)
    assert first.updates[0].version == 1 and not first.updates[0].absent
    await client.put(C + "/release", json={"default_version": 2})
    second = await asyncio.wait_for(stream.read(), 5)
    assert second.updates[0].version == 2
    assert second.updates[0].content == '{"v": 2}'
    stream.cancel()


async def test_bad_names_are_invalid_argument(served: tuple[Client, Any]) -> None:
    client, stub = served
    bad = watch_pb2.ConfigRef(tenant="Bad", app="a", env="e", name="n")
    stream: Any = stub.Watch(request(bad), metadata=auth(client.app[TOKEN]))
    assert await code_of(stream) == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("metadata", [[], auth("not-a-token"), auth("cfx_aaaaaaaaaaaa_bad")])
async def test_no_or_bad_credential_is_unauthenticated(
    served: tuple[Client, Any], metadata: list[tuple[str, str]]
) -> None:
    _, stub = served
    assert await code_of(stub.Watch(request(), metadata=metadata)) == (
        grpc.StatusCode.UNAUTHENTICATED
    )


async def test_another_tenants_key_is_denied_and_the_denial_audited(
    served: tuple[Client, Any],
) -> None:
    client, stub = served
    assert (await client.post("/api/v1/tenants", json={"name": "globex"})).status == 201
    other = await new_key(client, "globex", "client")
    stream: Any = stub.Watch(request(), metadata=auth(other["key"]))
    assert await code_of(stream) == grpc.StatusCode.PERMISSION_DENIED
    for _ in range(50):  # the denial is proposed in the background
        audit = await (await client.get("/api/v1/audit?actor=apikey:" + other["id"])).json()
        if audit["items"]:
            break
        await asyncio.sleep(0.02)
    denial = audit["items"][-1]
    assert (denial["action"], denial["tenant"], denial["outcome"]) == ("watch", "acme", "denied")
    assert denial["target"] == "gRPC Watch"


async def test_a_revoked_key_loses_its_idle_stream(served: tuple[Client, Any]) -> None:
    client, stub = served
    key = await new_key(client, "acme", "client")
    stream: Any = stub.Watch(request(), metadata=auth(key["key"]))
    assert (await asyncio.wait_for(stream.read(), 5)).updates[0].version == 1
    revoked = await client.delete(f"/api/v1/tenants/acme/apikeys/{key['id']}")
    assert revoked.status == 200
    # No change is published: the sentry wakes the idle stream within its 1 s sweep.
    assert await code_of(stream) == grpc.StatusCode.UNAUTHENTICATED


async def test_a_removed_binding_ends_the_stream_and_others_carry_on(
    served: tuple[Client, Any],
) -> None:
    client, stub = served
    user = {"username": "vic", "password": "a long passphrase"}
    assert (await client.post("/api/v1/users", json=user)).status == 201
    bind = {"user": "vic", "role": "viewer"}
    assert (await client.post("/api/v1/tenants/acme/bindings", json=bind)).status == 201
    vic: Any = stub.Watch(request(), metadata=auth(token_for_user(client, "vic")))
    admin: Any = stub.Watch(request(), metadata=auth(client.app[TOKEN]))
    for stream in (vic, admin):
        assert (await asyncio.wait_for(stream.read(), 5)).updates[0].version == 1
    assert (await client.delete("/api/v1/tenants/acme/bindings/vic")).status == 204
    assert await code_of(vic) == grpc.StatusCode.PERMISSION_DENIED
    await client.put(C + "/release", json={"default_version": 2})
    assert (await asyncio.wait_for(admin.read(), 5)).updates[0].version == 2
    admin.cancel()


async def test_a_stream_ends_when_its_token_expires(served: tuple[Client, Any]) -> None:
    client, stub = served
    short = token_for(client.app[STORE], "user:admin", ttl=1.5)
    stream: Any = stub.Watch(request(), metadata=auth(short))
    assert (await asyncio.wait_for(stream.read(), 5)).updates[0].version == 1
    assert await code_of(stream) == grpc.StatusCode.UNAUTHENTICATED


def token_for_user(client: Client, name: str) -> str:
    return token_for(client.app[STORE], f"user:{name}")


def test_peer_ip() -> None:
    assert peer_ip("ipv4:127.0.0.1:5050") == "127.0.0.1"
    assert peer_ip("ipv6:[::1]:5050") == "::1"
    assert peer_ip("unix:/tmp/sock") is None
