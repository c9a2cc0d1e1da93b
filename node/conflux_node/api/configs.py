"""Routes under /api/v1/configs/{tenant}/{app}/{env}/{name}: configs, versions, releases."""

from __future__ import annotations

from aiohttp import web

from conflux_node.api.context import READS, WRITES, actor_of, coords_of, json_body
from conflux_node.model.errors import InvalidInput
from conflux_node.model.names import check_name
from conflux_node.service.bodies import parse_positive

MAX_VERSION = 10**9


async def list_configs(request: web.Request) -> web.Response:
    info = request.match_info
    tenant, app, env = (check_name(k, info[k]) for k in ("tenant", "app", "env"))
    _only(request, {"limit", "after"})
    limit = parse_positive(request.query.get("limit"), "limit", None, 100)
    after = request.query.get("after") or None
    page = request.app[READS].configs_page(tenant, app, env, limit, after)
    return web.json_response(page)


async def put_config(request: web.Request) -> web.Response:
    result = await request.app[WRITES].put_config(
        coords_of(request), await json_body(request), actor_of(request)
    )
    return web.json_response(result["config"], status=201 if result["created"] else 200)


async def get_config(request: web.Request) -> web.Response:
    return web.json_response(request.app[READS].describe(coords_of(request)))


async def delete_config(request: web.Request) -> web.Response:
    await request.app[WRITES].delete_config(coords_of(request), actor_of(request))
    return web.Response(status=204)


async def create_version(request: web.Request) -> web.Response:
    result = await request.app[WRITES].create_version(
        coords_of(request), await json_body(request), actor_of(request)
    )
    return web.json_response(dict(result), status=201 if result["created"] else 200)


async def list_versions(request: web.Request) -> web.Response:
    limit, after = _page_params(request)
    return web.json_response(request.app[READS].versions_page(coords_of(request), limit, after))


async def get_version(request: web.Request) -> web.Response:
    number = _number(request.match_info["version"], "version")
    record = request.app[READS].version(coords_of(request), number)
    return web.json_response(record.to_json(), headers={"ETag": f'"{record.sha256}"'})


async def put_release(request: web.Request) -> web.Response:
    result = await request.app[WRITES].set_release(
        coords_of(request),
        await json_body(request),
        request.headers.get("If-Match"),
        actor_of(request),
    )
    return web.json_response(dict(result), headers={"ETag": f'"{result["revision"]}"'})


async def get_release(request: web.Request) -> web.Response:
    release = request.app[READS].release(coords_of(request))
    return web.json_response(release.to_json(), headers={"ETag": f'"{release.revision}"'})


async def list_releases(request: web.Request) -> web.Response:
    limit, after = _page_params(request)
    return web.json_response(request.app[READS].releases_page(coords_of(request), limit, after))


def _page_params(request: web.Request) -> tuple[int | None, int | None]:
    query = request.query
    _only(request, {"limit", "after"})
    limit = parse_positive(query.get("limit"), "limit", None, 100)
    after = parse_positive(query.get("after"), "after", None, MAX_VERSION)
    return limit, after


def _only(request: web.Request, allowed: set[str]) -> None:
    unknown = sorted(set(request.query) - allowed)
    if unknown:
        raise InvalidInput(f"unknown query parameter '{unknown[0]}'", field=unknown[0])


def _number(raw: str, field: str) -> int:
    number = parse_positive(raw, field, None, MAX_VERSION)
    assert number is not None
    return number
