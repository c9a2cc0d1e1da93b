"""Authentication routes: password login and `whoami`.

Any node answers both, follower or leader: the signing key and the identity records
are replicated. Responses that carry a token are marked `no-store`.
"""

from __future__ import annotations

from aiohttp import web

from conflux_node.api.context import SESSIONS, client_ip, json_body


async def login(request: web.Request) -> web.Response:
    answer = await request.app[SESSIONS].login(await json_body(request), client_ip(request))
    return web.json_response(answer, headers={"Cache-Control": "no-store"})


async def whoami(request: web.Request) -> web.Response:
    return web.json_response(request.app[SESSIONS].whoami(request.headers.get("Authorization")))
