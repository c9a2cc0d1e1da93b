"""Cluster and liveness routes: /health, /ready, /metrics and /api/v1/cluster/*."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web

from conflux_node.api.context import ACCESS, CLUSTER, DIGEST, HUB, PEER_SSL, SESSION
from conflux_node.api.errors import error_response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    ok, reason = request.app[CLUSTER].ready()
    if not ok:
        return error_response("not_ready", reason, 503)
    return web.json_response({"status": "ready"})


async def cluster_status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[CLUSTER].status(request.app[SESSION]))


async def cluster_self(request: web.Request) -> web.Response:
    return web.json_response(request.app[CLUSTER].self_report())


DIGEST_LOCK = web.AppKey("digest_lock", asyncio.Lock)
DIGEST_ATTEMPTS = 5


async def cluster_digest(request: web.Request) -> web.Response:
    """A sha256 over the whole state at `last_applied`: equal on nodes that applied the
    same index. Computed off the event loop, one at a time, and again if an entry was
    applied meanwhile (so digest and index belong together)."""
    app = request.app
    async with app[DIGEST_LOCK]:
        for _ in range(DIGEST_ATTEMPTS):
            before = app[CLUSTER].self_report()
            digest = await asyncio.to_thread(app[DIGEST])
            after = app[CLUSTER].self_report()
            if before["last_applied"] == after["last_applied"]:
                break
    fields = {"id": after["id"], "last_applied": after["last_applied"], "digest": digest}
    return web.json_response({**fields, "settled": before["last_applied"] == after["last_applied"]})


async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format: Raft position, fsyncs, watchers and refusals of this node."""
    report = request.app[CLUSTER].self_report()
    hub = request.app[HUB]
    refused = request.app[ACCESS].counters
    node = f'node="{report["id"]}"'
    samples = [
        ("conflux_raft_term", "gauge", report["term"]),
        ("conflux_raft_commit_index", "gauge", report["commit_index"]),
        ("conflux_raft_last_applied", "gauge", report["last_applied"]),
        ("conflux_raft_is_leader", "gauge", int(report["role"] == "leader")),
        ("conflux_journal_fsyncs_total", "counter", report["journal_fsyncs"]),
        ("conflux_watchers", "gauge", hub.watcher_count),
        ("conflux_watchers_dropped_total", "counter", hub.dropped_total),
        ("conflux_unauthenticated_total", "counter", refused.unauthenticated),
        ("conflux_forbidden_total", "counter", refused.forbidden),
        ("conflux_denials_unrecorded_total", "counter", refused.denials_unrecorded),
    ]
    lines = []
    for name, kind, value in samples:
        lines += [f"# TYPE {name} {kind}", f"{name}{{{node}}} {value}"]
    return web.Response(text="\n".join(lines) + "\n", content_type="text/plain")


async def open_session(app: web.Application) -> None:
    """The session for calls to other nodes; with PEER_SSL set, it trusts and presents that."""
    context = app.get(PEER_SSL)
    connector = aiohttp.TCPConnector(ssl=context) if context is not None else None
    app[SESSION] = aiohttp.ClientSession(connector=connector)


async def close_session(app: web.Application) -> None:
    await app[SESSION].close()
