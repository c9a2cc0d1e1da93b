"""`GET /api/v1/watch`: long-polling for clients without gRPC, as in Apollo and Nacos.

The client lists the configs it uses with the sha256 it holds of each
(`config=tenant/app/env/name:sha256`, repeated; no sha when it holds nothing). The
answer comes at once when something differs, else at the first change that alters what
this client is served, else as 304 after `wait` seconds.

The guard checked the caller when the request arrived; an answer that comes after a
wait is checked again first, so a key revoked meanwhile gets no content.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from conflux_node.api.context import HUB
from conflux_node.api.fetch import parse_labels_query
from conflux_node.api.guard import Access, Scope, check
from conflux_node.auth.roles import WATCH
from conflux_node.model.entities import ClientIdentity
from conflux_node.model.errors import InvalidInput
from conflux_node.model.names import Coords
from conflux_node.service.watch import Update

MAX_CONFIGS = 256
MAX_WAIT = 60
DEFAULT_WAIT = 30
QUERY = {"config", "client_id", "labels", "wait"}
ACCESS = Access(Scope.WATCHED, WATCH)


def parse_held(values: list[str]) -> dict[Coords, str]:
    if not values:
        raise InvalidInput("name at least one config=tenant/app/env/name[:sha256]", field="config")
    if len(values) > MAX_CONFIGS:
        raise InvalidInput(f"at most {MAX_CONFIGS} configs per watch", field="config")
    held: dict[Coords, str] = {}
    for value in values:
        path, _, sha = value.partition(":")
        parts = path.split("/")
        if len(parts) != 4:
            raise InvalidInput(
                f"config must look like tenant/app/env/name[:sha256], got {value!r}",
                field="config",
            )
        held[Coords.parse(*parts)] = sha
    return held


def update_json(update: Update) -> dict[str, Any]:
    body: dict[str, Any] = {**update.coords.to_json(), "absent": update.served is None}
    if update.served is not None:
        body.update(update.served.to_json())
    return body


def _wait_of(raw: str | None) -> float:
    if raw is None:
        return DEFAULT_WAIT
    try:
        wait = float(raw)
    except ValueError:
        wait = -1
    if not 0 < wait <= MAX_WAIT:
        raise InvalidInput(f"wait must be a number of seconds in (0, {MAX_WAIT}]", field="wait")
    return wait


async def long_poll(request: web.Request) -> web.Response:
    query = request.query
    for name in query:
        if name not in QUERY:
            raise InvalidInput(f"unknown query parameter '{name}'", field=name)
    held = parse_held(query.getall("config", []))
    wait = _wait_of(query.get("wait"))
    client = ClientIdentity(
        query.get("client_id") or None, parse_labels_query(query.get("labels")), request.remote
    )
    hub = request.app[HUB]
    watcher = hub.watch(client, held)
    try:
        updates = watcher.initial
        if not updates:
            try:
                batch = await asyncio.wait_for(watcher.next(), wait)
                updates = batch or []
            except TimeoutError:
                return web.Response(status=304)
            check(request, ACCESS)
        return web.json_response({"updates": [update_json(u) for u in updates]})
    finally:
        hub.unwatch(watcher)
