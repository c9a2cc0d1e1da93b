"""Admin routes: tenants, users, role bindings, API keys and the audit log.

Thin handlers: parse the path, hand the body to `service.identity`, pick the status.
`api.guard` has authorized the caller before any of these runs; the actor of each
write is that caller.
"""

from __future__ import annotations

from aiohttp import web

from conflux_node.api.context import IDENTITY, actor_of, json_body


async def create_tenant(request: web.Request) -> web.Response:
    tenant = await request.app[IDENTITY].create_tenant(await json_body(request), actor_of(request))
    return web.json_response(tenant, status=201)


async def list_tenants(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].list_tenants())


async def get_tenant(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].get_tenant(request.match_info["tenant"]))


async def delete_tenant(request: web.Request) -> web.Response:
    result = await request.app[IDENTITY].delete_tenant(
        request.match_info["tenant"], actor_of(request)
    )
    return web.json_response(dict(result))


async def create_user(request: web.Request) -> web.Response:
    user = await request.app[IDENTITY].create_user(await json_body(request), actor_of(request))
    return web.json_response(user, status=201)


async def list_users(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].list_users())


async def get_user(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].get_user(request.match_info["user"]))


async def set_password(request: web.Request) -> web.Response:
    user, actor = request.match_info["user"], actor_of(request)
    own = actor == f"user:{user}"
    await request.app[IDENTITY].set_password(user, await json_body(request), actor, own=own)
    return web.Response(status=204)


async def delete_user(request: web.Request) -> web.Response:
    await request.app[IDENTITY].delete_user(request.match_info["user"], actor_of(request))
    return web.Response(status=204)


async def create_binding(request: web.Request) -> web.Response:
    binding = await request.app[IDENTITY].bind(
        request.match_info["tenant"], await json_body(request), actor_of(request)
    )
    return web.json_response(binding, status=201)


async def list_bindings(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].bindings(request.match_info["tenant"]))


async def get_binding(request: web.Request) -> web.Response:
    info = request.match_info
    return web.json_response(request.app[IDENTITY].binding(info["tenant"], info["user"]))


async def delete_binding(request: web.Request) -> web.Response:
    info = request.match_info
    await request.app[IDENTITY].unbind(info["tenant"], info["user"], actor_of(request))
    return web.Response(status=204)


async def create_api_key(request: web.Request) -> web.Response:
    created = await request.app[IDENTITY].create_api_key(
        request.match_info["tenant"], await json_body(request), actor_of(request)
    )
    # The key is in this body and nowhere else, ever: tell caches not to keep it.
    return web.json_response(created, status=201, headers={"Cache-Control": "no-store"})


async def list_api_keys(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].api_keys(request.match_info["tenant"]))


async def get_api_key(request: web.Request) -> web.Response:
    info = request.match_info
    return web.json_response(request.app[IDENTITY].api_key(info["tenant"], info["id"]))


async def revoke_api_key(request: web.Request) -> web.Response:
    info = request.match_info
    result = await request.app[IDENTITY].revoke_api_key(
        info["tenant"], info["id"], actor_of(request)
    )
    return web.json_response(dict(result))


async def get_audit_retention(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].audit_retention())


async def put_audit_retention(request: web.Request) -> web.Response:
    identity = request.app[IDENTITY]
    retention = await identity.set_audit_retention(await json_body(request), actor_of(request))
    return web.json_response(retention)


async def audit(request: web.Request) -> web.Response:
    return web.json_response(request.app[IDENTITY].audit(request.query))
