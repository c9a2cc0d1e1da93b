"""Cluster and liveness routes: /health, /ready, /api/v1/cluster/status and /self."""

from __future__ import annotations

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
    report = request.app[CLUSTER].self_report()
    if request.query.get("digest") in ("1", "true"):
        report["digest"] = request.app[DIGEST]()
    return web.json_response(report)


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
