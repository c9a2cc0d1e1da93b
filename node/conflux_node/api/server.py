"""Assemble the aiohttp application from the route table and the services."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable

from aiohttp import web

from conflux_node.api.cluster import DIGEST_LOCK, close_session, open_session
from conflux_node.api.context import (
    ACCESS,
    CLUSTER,
    DIGEST,
    HUB,
    IDENTITY,
    PEER_SSL,
    READS,
    SESSIONS,
    WRITES,
)
from conflux_node.api.errors import error_middleware
from conflux_node.api.guard import AUTHENTICATED, PUBLIC, Access, build_guard
from conflux_node.api.openapi import OPENAPI_PATH, build_openapi
from conflux_node.api.routes import ROUTES
from conflux_node.service.access import AccessControl
from conflux_node.service.cluster import ClusterInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites

METRICS_PATH = "/metrics"
BODY_OVERHEAD = 256 * 1024  # JSON escaping and the other fields around `content`


def build_app(
    writes: ConfigWrites,
    reads: ConfigReads,
    cluster: ClusterInfo,
    *,
    digest: Callable[[], str],
    max_content_bytes: int,
    hub: WatchHub,
    identity: IdentityAdmin,
    sessions: Sessions,
    access: AccessControl,
    peer_ssl: ssl.SSLContext | None = None,
    metrics_open: bool = True,
) -> web.Application:
    # JSON escaping can grow content up to 6x (\uXXXX); the exact limit is enforced on
    # the decoded content, this only bounds what is read at all.
    table = access_table(metrics_open)
    app = web.Application(
        middlewares=[error_middleware, build_guard(table)],
        client_max_size=max_content_bytes * 6 + BODY_OVERHEAD,
    )
    app[WRITES], app[READS], app[CLUSTER], app[DIGEST] = writes, reads, cluster, digest
    app[HUB] = hub
    app[IDENTITY], app[SESSIONS], app[ACCESS] = identity, sessions, access
    if peer_ssl is not None:
        app[PEER_SSL] = peer_ssl
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    document = build_openapi(ROUTES)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_route("GET", OPENAPI_PATH, openapi)
    app[DIGEST_LOCK] = asyncio.Lock()
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app


def access_table(metrics_open: bool) -> dict[tuple[str, str], Access]:
    """Each served (method, path template) and who may call it; see `api.guard`."""
    table = {(route.method, route.path): route.access for route in ROUTES}
    table["GET", OPENAPI_PATH] = PUBLIC
    if not metrics_open:
        table["GET", METRICS_PATH] = AUTHENTICATED
    return table
