"""Assemble the aiohttp application from the route table and the services."""

from __future__ import annotations

import ssl
from collections.abc import Callable

from aiohttp import web

from conflux_node.api.cluster import close_session, open_session
from conflux_node.api.context import (
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
from conflux_node.api.openapi import OPENAPI_PATH, build_openapi
from conflux_node.api.routes import ROUTES
from conflux_node.service.cluster import ClusterInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites

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
    peer_ssl: ssl.SSLContext | None = None,
) -> web.Application:
    # JSON escaping can grow content up to 6x (\uXXXX); the exact limit is enforced on
    # the decoded content, this only bounds what is read at all.
    app = web.Application(
        middlewares=[error_middleware], client_max_size=max_content_bytes * 6 + BODY_OVERHEAD
    )
    app[WRITES], app[READS], app[CLUSTER], app[DIGEST] = writes, reads, cluster, digest
    app[HUB] = hub
    app[IDENTITY], app[SESSIONS] = identity, sessions
    if peer_ssl is not None:
        app[PEER_SSL] = peer_ssl
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)
    document = build_openapi(ROUTES)

    async def openapi(request: web.Request) -> web.Response:
        return web.json_response(document)

    app.router.add_get(OPENAPI_PATH, openapi)
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app
