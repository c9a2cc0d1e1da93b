"""Baseline: a bare aiohttp server answering the fetch route with a small JSON dict.

Same framework, same route shape, same response shape and headers as
`GET /api/v1/fetch/...` on a node, but no store, no rules, no Raft: the ceiling for
one aiohttp process on this machine.

    python -m bench.bare_aiohttp --port 7390
"""

from __future__ import annotations

import argparse
import hashlib
import json

from aiohttp import web

CONTENT = json.dumps({"feature": True, "pool": 10, "name": "cfg00"})
SHA = hashlib.sha256(CONTENT.encode()).hexdigest()


async def fetch(request: web.Request) -> web.Response:
    body = {
        "version": 1,
        "release_revision": 1,
        "sha256": SHA,
        "format": "json",
        "content": CONTENT,
        "rule": None,
    }
    headers = {"ETag": f'"{SHA}"', "X-Conflux-Version": "1", "X-Conflux-Release-Revision": "1"}
    return web.json_response(body, headers=headers)


async def ready(request: web.Request) -> web.Response:
    return web.json_response({"ready": True})


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.bare_aiohttp")
    parser.add_argument("--port", type=int, default=7390)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_get("/api/v1/fetch/{tenant}/{app}/{env}/{name}", fetch)
    app.router.add_get("/ready", ready)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
