"""The gRPC edge: `conflux.v1.ConfluxWatch/Watch` on grpc.aio, and its error table.

A stream answers at once with what differs from what the client holds, then with every
change to what this client is served. A watcher the hub dropped for being too slow gets
one `resync` event and the stream ends; the client reconnects sending what it holds.

Access is checked like on the HTTP edge, by the same `AccessControl`, when a stream
opens and again while it lives (see `grpc_access`): a stream that lost its grant ends
with UNAUTHENTICATED or PERMISSION_DENIED.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import grpc

from conflux.v1 import watch_pb2
from conflux_node.api.grpc_access import GrantSentry, authorization_of, grant_of, recheck
from conflux_node.auth import errors as auth
from conflux_node.model import errors as e
from conflux_node.model.entities import ClientIdentity
from conflux_node.model.names import Coords
from conflux_node.service.access import AccessControl
from conflux_node.service.watch import Update, WatchHub

log = logging.getLogger(__name__)

GRPC_STATUS: dict[type[e.ConfluxError], grpc.StatusCode] = {
    e.InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    e.ConfigNotFound: grpc.StatusCode.NOT_FOUND,
    e.NoLeader: grpc.StatusCode.UNAVAILABLE,
    e.Unavailable: grpc.StatusCode.UNAVAILABLE,
    auth.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    auth.Forbidden: grpc.StatusCode.PERMISSION_DENIED,
}
MAX_CONFIGS = 256
ENCODED_CACHE = 256
SERVICE_NAME = "conflux.v1.ConfluxWatch"


def grpc_status_of(error: e.ConfluxError) -> grpc.StatusCode:
    for cls in type(error).__mro__:
        if cls in GRPC_STATUS:
            return GRPC_STATUS[cls]
    return grpc.StatusCode.INTERNAL


def peer_ip(peer: str) -> str | None:
    """'ipv4:127.0.0.1:5050' -> '127.0.0.1'; 'ipv6:[::1]:5050' -> '::1'."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return None


def held_of(request: watch_pb2.WatchRequest) -> dict[Coords, str]:
    if not request.configs or len(request.configs) > MAX_CONFIGS:
        raise e.InvalidInput(f"watch 1 to {MAX_CONFIGS} configs", field="configs")
    return {
        Coords.parse(h.config.tenant, h.config.app, h.config.env, h.config.name): h.sha256
        for h in request.configs
    }


def to_proto(update: Update) -> watch_pb2.ConfigUpdate:
    c = update.coords
    ref = watch_pb2.ConfigRef(tenant=c.tenant, app=c.app, env=c.env, name=c.name)
    served = update.served
    if served is None:
        return watch_pb2.ConfigUpdate(config=ref, absent=True)
    return watch_pb2.ConfigUpdate(
        config=ref,
        version=served.version,
        release_revision=served.release_revision,
        sha256=served.sha256,
        format=served.format,
        content=served.content,
        rule=served.rule or "",
    )


def event_of(updates: list[Update]) -> watch_pb2.WatchEvent:
    return watch_pb2.WatchEvent(updates=[to_proto(u) for u in updates])


class WatchService:
    """Streams are answered with pre-serialized events: when one change reaches many
    watchers with the same answer, the hub hands them all the same batch object, and it
    is encoded once instead of once per stream."""

    def __init__(self, hub: WatchHub, access: AccessControl) -> None:
        self._hub = hub
        self._access = access
        self.sentry = GrantSentry(access)
        self._encoded: dict[int, tuple[list[Update], bytes]] = {}

    def encode(self, batch: list[Update]) -> bytes:
        cached = self._encoded.get(id(batch))
        if cached is not None and cached[0] is batch:
            return cached[1]
        if len(self._encoded) >= ENCODED_CACHE:
            self._encoded.clear()
        data: bytes = event_of(batch).SerializeToString()
        self._encoded[id(batch)] = (batch, data)
        return data

    async def Watch(
        self, request: watch_pb2.WatchRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[bytes]:
        try:
            held = held_of(request)
            grant = grant_of(self._access, authorization_of(context), held)
        except e.ConfluxError as error:
            await context.abort(grpc_status_of(error), error.message)
            return
        client = ClientIdentity(
            request.client_id or None, dict(request.labels), peer_ip(context.peer())
        )
        watcher = self._hub.watch(client, held)
        self.sentry.track(watcher, grant)
        try:
            if watcher.initial:
                yield self.encode(watcher.initial)
            while True:
                updates = await watcher.next()
                try:
                    recheck(self._access, grant)
                except e.ConfluxError as error:
                    await context.abort(grpc_status_of(error), error.message)
                    return
                if updates is None:
                    yield watch_pb2.WatchEvent(resync=True).SerializeToString()
                    return
                if updates:  # an empty batch is the sentry asking for a recheck only
                    yield self.encode(updates)
        finally:
            self.sentry.forget(watcher)
            self._hub.unwatch(watcher)


def _passthrough(message: bytes) -> bytes:
    return message


def register(server: grpc.aio.Server, service: WatchService) -> None:
    """The generated registration, with events sent as the bytes `Watch` yields."""
    handlers = {
        "Watch": grpc.unary_stream_rpc_method_handler(
            service.Watch,
            request_deserializer=watch_pb2.WatchRequest.FromString,
            response_serializer=_passthrough,
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE_NAME, handlers),))


class GrpcEdge:
    """The running gRPC server and the sentry re-checking its streams' grants."""

    def __init__(self, server: grpc.aio.Server, service: WatchService) -> None:
        self.server = server
        self.service = service

    async def stop(self, grace: float | None) -> None:
        await self.service.sentry.stop()
        await self.server.stop(grace)


async def start_grpc(
    hub: WatchHub,
    access: AccessControl,
    host: str,
    port: int,
    credentials: grpc.ServerCredentials | None = None,
) -> GrpcEdge:
    """Serve Watch on host:port; over TLS when `credentials` are given (see conflux_node.tls)."""
    server = grpc.aio.server()
    service = WatchService(hub, access)
    register(server, service)
    if credentials is None:
        server.add_insecure_port(f"{host}:{port}")
    else:
        server.add_secure_port(f"{host}:{port}", credentials)
    await server.start()
    service.sentry.start()
    return GrpcEdge(server, service)
