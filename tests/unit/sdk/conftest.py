"""In-process fakes of a Conflux node for SDK tests: a gRPC Watch servicer and HTTP fetch.

`FakeCenter` holds what is served; `FakeWatch` streams it over a real grpc.aio server
and `fetch_app` serves `GET /api/v1/fetch/...` over a real aiohttp server, both on
127.0.0.1, so the SDK is exercised through its real transports.
"""

from __future__ import annotations

import asyncio
import hashlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import grpc.aio
import pytest
from aiohttp import web

from conflux.v1 import watch_pb2, watch_pb2_grpc

TENANT, APP, ENV = "acme", "shop", "prod"


def sha(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)


@dataclass
class Served:
    version: int
    fmt: str
    content: str
    release_revision: int = 1

    @property
    def sha256(self) -> str:
        return sha(self.content)


@dataclass
class FakeCenter:
    """What each config serves; `push=False` makes watch streams deliver nothing."""

    served: dict[str, Served] = field(default_factory=dict)
    push: bool = True
    streams: list[asyncio.Queue[str]] = field(default_factory=list)
    requests: list[watch_pb2.WatchRequest] = field(default_factory=list)
    fetches: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    metadata: list[dict[str, str]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)

    def publish(self, name: str, content: str, fmt: str = "json") -> Served:
        old = self.served.get(name)
        entry = Served((old.version + 1) if old else 1, fmt, content)
        self.served[name] = entry
        if self.push:
            for queue in self.streams:
                queue.put_nowait(name)
        return entry

    def delete(self, name: str) -> None:
        self.served.pop(name, None)
        if self.push:
            for queue in self.streams:
                queue.put_nowait(name)

    def update(self, name: str) -> watch_pb2.ConfigUpdate:
        ref = watch_pb2.ConfigRef(tenant=TENANT, app=APP, env=ENV, name=name)
        entry = self.served.get(name)
        if entry is None:
            return watch_pb2.ConfigUpdate(config=ref, absent=True)
        return watch_pb2.ConfigUpdate(
            config=ref,
            version=entry.version,
            release_revision=entry.release_revision,
            sha256=entry.sha256,
            format=entry.fmt,
            content=entry.content,
        )


class FakeWatch(watch_pb2_grpc.ConfluxWatchServicer):
    def __init__(self, center: FakeCenter) -> None:
        self.center = center
        self.resync_next = False

    async def Watch(
        self, request: watch_pb2.WatchRequest, context: Any
    ) -> AsyncIterator[watch_pb2.WatchEvent]:
        self.center.requests.append(request)
        self.center.metadata.append({m.key: m.value for m in context.invocation_metadata()})
        held = {h.config.name: h.sha256 for h in request.configs}
        queue: asyncio.Queue[str] = asyncio.Queue()
        self.center.streams.append(queue)
        try:
            first = [
                self.center.update(name)
                for name, have in held.items()
                if (self.center.served[name].sha256 if name in self.center.served else "") != have
            ]
            if first:
                yield watch_pb2.WatchEvent(updates=first)
            while True:
                name = await queue.get()
                if self.resync_next:
                    self.resync_next = False
                    yield watch_pb2.WatchEvent(resync=True)
                    return
                if name in held:
                    yield watch_pb2.WatchEvent(updates=[self.center.update(name)])
        finally:
            self.center.streams.remove(queue)


class GrpcNode:
    """A grpc.aio server with `FakeWatch`, which can be stopped and restarted on a port."""

    def __init__(self, center: FakeCenter) -> None:
        self.servicer = FakeWatch(center)
        self.server: grpc.aio.Server | None = None
        self.port = 0

    async def start(self, port: int = 0) -> str:
        self.server = grpc.aio.server()
        watch_pb2_grpc.add_ConfluxWatchServicer_to_server(self.servicer, self.server)
        self.port = self.server.add_insecure_port(f"127.0.0.1:{port}")
        await self.server.start()
        return f"127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop(grace=None)
            self.server = None


def fetch_app(center: FakeCenter, status: Callable[[], int] = lambda: 200) -> web.Application:
    async def fetch(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        center.fetches.append((name, dict(request.query)))
        center.headers.append(dict(request.headers))
        forced = status()
        if forced != 200:
            return web.json_response({"error": {"code": "boom", "message": "x"}}, status=forced)
        entry = center.served.get(name)
        if entry is None:
            missing = {"error": {"code": "config_not_found", "message": "no", "details": {}}}
            return web.json_response(missing, status=404)
        etag = f'"{entry.sha256}"'
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        body: dict[str, Any] = {
            "version": entry.version,
            "release_revision": entry.release_revision,
            "sha256": entry.sha256,
            "format": entry.fmt,
            "content": entry.content,
            "rule": None,
        }
        return web.json_response(body, headers={"ETag": etag})

    app = web.Application()
    app.router.add_get("/api/v1/fetch/{tenant}/{app}/{env}/{name}", fetch)
    return app


async def start_http(app: web.Application) -> tuple[str, Callable[[], Awaitable[None]]]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return f"http://127.0.0.1:{port}", runner.cleanup


@dataclass
class Node:
    center: FakeCenter
    http: str
    grpc: GrpcNode
    target: str


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    center = FakeCenter()
    http, cleanup = await start_http(fetch_app(center))
    grpc_node = GrpcNode(center)
    target = await grpc_node.start()
    try:
        yield Node(center, http, grpc_node, target)
    finally:
        await grpc_node.stop()
        await cleanup()
