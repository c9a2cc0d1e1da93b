"""The SDK against a node serving HTTPS and gRPC over TLS, with and without client certificates.

The certificates come from `tests/unit/test_tls.py` (its `pki` fixture and helpers); the node
is the SDK tests' fake center, served with the node's own TLS contexts.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web

from conflux import AsyncConfluxClient, Backoff, ChangeEvent, ConfluxClient
from conflux.rest import RestClient
from conflux.tls import TlsError, TlsFiles
from conflux.v1 import watch_pb2_grpc
from conflux_node.tls import grpc_credentials, server_context
from tests.unit.test_tls import Pki, pki, server_tls

from .conftest import APP, ENV, TENANT, FakeCenter, FakeWatch, fetch_app, wait_until

__all__ = ["pki"]  # the module-scoped certificates fixture, shared with tests/unit/test_tls.py

FAST = Backoff(base=0.02, cap=0.2)


@dataclass
class TlsNode:
    center: FakeCenter
    https: str
    target: str
    require_client: bool


async def serve_tls(pki: Pki, require_client: bool) -> AsyncIterator[TlsNode]:
    center = FakeCenter()
    tls = server_tls(pki, require_client=require_client)
    runner = web.AppRunner(fetch_app(center), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(tls))
    await site.start()
    port = runner.addresses[0][1]
    server = grpc.aio.server()
    watch_pb2_grpc.add_ConfluxWatchServicer_to_server(FakeWatch(center), server)
    credentials = grpc_credentials(tls)
    assert credentials is not None
    grpc_port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield TlsNode(center, f"https://127.0.0.1:{port}", f"127.0.0.1:{grpc_port}", require_client)
    finally:
        await server.stop(None)
        await runner.cleanup()


@pytest.fixture(params=[False, True], ids=["server-tls", "mutual-tls"])
async def node(pki: Pki, request: pytest.FixtureRequest) -> AsyncIterator[TlsNode]:
    async for served in serve_tls(pki, request.param):
        yield served


def client_files(pki: Pki, node: TlsNode) -> dict[str, Any]:
    files: dict[str, Any] = {"ca_file": pki.ca}
    if node.require_client:
        files |= {"cert_file": pki.client_cert, "key_file": pki.client_key}
    return files


def client_for(node: TlsNode, **kwargs: Any) -> AsyncConfluxClient:
    kwargs.setdefault("poll_interval", None)
    return AsyncConfluxClient(
        [node.https], TENANT, APP, ENV, grpc_endpoints=[node.target], backoff=FAST, **kwargs
    )


async def test_fetch_and_watch_over_tls(node: TlsNode, pki: Pki) -> None:
    node.center.publish("db", '{"pool": {"size": 5}}')
    events: list[ChangeEvent] = []
    async with client_for(node, **client_files(pki, node)) as client:
        client.on_change(events.append)
        db = await client.config("db")
        assert db.get_int("pool.size") == 5
        await wait_until(lambda: node.center.streams)
        node.center.publish("db", '{"pool": {"size": 9}}')
        await wait_until(lambda: events)
        assert db.get_int("pool.size") == 9
        assert client.connected_to == node.target
    assert node.center.fetches  # the first load went over HTTPS


async def test_without_the_ca_the_sdk_serves_its_disk_cache(
    node: TlsNode, pki: Pki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    node.center.publish("db", '{"pool": {"size": 7}}')
    async with client_for(node, cache_dir=tmp_path, **client_files(pki, node)) as client:
        assert (await client.config("db")).get_int("pool.size") == 7

    node.center.publish("db", '{"pool": {"size": 8}}')
    fetched = len(node.center.fetches)
    async with client_for(node, cache_dir=tmp_path, poll_interval=0.05) as untrusting:
        db = await untrusting.config("db")
        assert db.get_int("pool.size") == 7  # the disk cache, not the node's 8
        await asyncio.sleep(0.3)  # poller and watcher keep failing, quietly
        assert db.get_int("pool.size") == 7
        assert untrusting.connected_to is None
        missing = await untrusting.config("other")
        assert missing.get_int("x", default=4) == 4
    assert len(node.center.fetches) == fetched  # no request got through the handshake


async def test_mutual_tls_without_a_client_certificate_falls_back(pki: Pki) -> None:
    async for node in serve_tls(pki, require_client=True):
        node.center.publish("db", '{"a": 1}')
        async with client_for(node, ca_file=pki.ca) as client:
            db = await client.config("db")
            assert db.get_int("b", default=3) == 3
            assert not db.available
            await asyncio.sleep(0.2)
            assert client.connected_to is None
        assert node.center.fetches == []


async def test_sync_client_and_rest_client_over_tls(node: TlsNode, pki: Pki) -> None:
    node.center.publish("db", "size=4\n", fmt="properties")
    files = client_files(pki, node)
    seen: list[int] = []

    def run() -> None:
        with ConfluxClient(
            [node.https], TENANT, APP, ENV, grpc_endpoints=[node.target], **files
        ) as client:
            seen.append(client.config("db").get_int("size"))
        rest = RestClient(node.https, **files)
        seen.append(rest.get("/api/v1/fetch/acme/shop/prod/db")["version"])

    thread = threading.Thread(target=run)
    thread.start()
    await asyncio.to_thread(thread.join, 30)
    assert seen == [4, 1]


def test_tls_files_build_a_context_and_credentials(pki: Pki) -> None:
    files = TlsFiles.of(pki.ca, pki.client_cert, pki.client_key)
    context = files.ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(context.get_ca_certs()) == 1
    assert isinstance(files.grpc_credentials(), grpc.ChannelCredentials)
    assert not TlsFiles.of().configured


def test_bad_tls_files_fail_at_construction_by_name(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(TlsError, match=r"nope\.pem"):
        RestClient("https://127.0.0.1:1", ca_file=missing)
    with pytest.raises(TlsError, match=r"nope\.pem"):
        AsyncConfluxClient(["https://127.0.0.1:1"], TENANT, APP, ENV, cert_file=missing)
    with pytest.raises(TlsError, match="without a client certificate"):
        RestClient("https://127.0.0.1:1", key_file=pki.client_key)
    with pytest.raises(TlsError, match=re.escape(str(pki.client_cert))):
        RestClient("https://127.0.0.1:1", cert_file=pki.client_cert, key_file=pki.server_key)
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    with pytest.raises(TlsError, match=r"ca\.txt"):
        RestClient("https://127.0.0.1:1", ca_file=not_pem)
    with pytest.raises(ValueError, match=r"nope\.pem"):  # TlsError is a ValueError
        ConfluxClient(["https://127.0.0.1:1"], TENANT, APP, ENV, ca_file=missing)


async def test_a_combined_certificate_and_key_file_needs_no_key_file(
    pki: Pki, tmp_path: Path
) -> None:
    combined = tmp_path / "client-combined.pem"
    combined.write_bytes(pki.client_cert.read_bytes() + pki.client_key.read_bytes())
    async for node in serve_tls(pki, require_client=True):
        node.center.publish("db", '{"a": 1}')
        async with client_for(node, ca_file=pki.ca, cert_file=combined) as client:
            db = await client.config("db")
            assert db.get_int("a") == 1
            await wait_until(lambda: node.center.streams)
            node.center.publish("db", '{"a": 2}')
            await wait_until(lambda: db.get_int("a") == 2)
            assert client.connected_to == node.target
