"""Typed application keys and small request helpers shared by the route modules."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web

from conflux_node.model.errors import MalformedBody
from conflux_node.model.names import Coords
from conflux_node.service.access import AccessControl
from conflux_node.service.cluster import ClusterInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Principal, Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites

WRITES = web.AppKey("writes", ConfigWrites)
READS = web.AppKey("reads", ConfigReads)
CLUSTER = web.AppKey("cluster", ClusterInfo)
DIGEST: web.AppKey[Callable[[], str]] = web.AppKey("digest")
SESSION = web.AppKey("session", aiohttp.ClientSession)
HUB = web.AppKey("hub", WatchHub)
IDENTITY = web.AppKey("identity", IdentityAdmin)
SESSIONS = web.AppKey("sessions", Sessions)
PEER_SSL = web.AppKey("peer_ssl", ssl.SSLContext)  # absent: default TLS for peer calls
ACCESS = web.AppKey("access", AccessControl)
PRINCIPAL = web.RequestKey("principal", Principal)  # set by api.guard on guarded routes


def coords_of(request: web.Request) -> Coords:
    info = request.match_info
    return Coords.parse(info["tenant"], info["app"], info["env"], info["name"])


async def json_body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise MalformedBody("the request needs a JSON body", field="body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedBody("the body is not UTF-8", field="body") from None
    return json.loads(text)


def actor_of(request: web.Request) -> str:
    """Who the audit log names for a write: the caller `api.guard` verified."""
    return request[PRINCIPAL].actor


def client_ip(request: web.Request) -> str:
    """The peer address (no proxy headers are trusted: they are client-controlled)."""
    return request.remote or "unknown"
