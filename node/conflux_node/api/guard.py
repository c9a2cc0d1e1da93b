"""The one guard in front of every HTTP route: authenticate, then authorize.

Each route in `routes.ROUTES` carries an `Access`: open to anyone, open to any
authenticated caller, or one action of `auth.roles` in a tenant named by the path, by
a query parameter, by the watched configs, or system-wide. The middleware looks the
matched route up and refuses before the handler runs: 401 for a missing or bad
credential, 403 for an action the policy does not grant. A route the table does not
know is refused too (fail closed); the auth-matrix test walks the same table.

The verified caller is left on the request (`PRINCIPAL`) for the handler, which names
it as the actor of the write it proposes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from aiohttp import web
from aiohttp.typedefs import Middleware

from conflux_node.api.context import ACCESS, PRINCIPAL
from conflux_node.auth.errors import Unauthenticated
from conflux_node.service.sessions import Principal

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Scope(Enum):
    PUBLIC = "public"
    AUTHENTICATED = "authenticated"
    TENANT = "tenant"  # the path's {tenant}
    TENANT_QUERY = "tenant-query"  # ?tenant=..., else system-wide
    WATCHED = "watched"  # the tenant of every ?config=tenant/app/env/name
    SYSTEM = "system"
    SELF = "self"  # the path's {user} is the caller; anyone else needs it system-wide


@dataclass(frozen=True, slots=True)
class Access:
    scope: Scope
    action: str | None = None

    def describe(self) -> str:
        """What the OpenAPI document says about who may call the route."""
        if self.scope is Scope.PUBLIC:
            return "open: no credential needed"
        if self.scope is Scope.AUTHENTICATED:
            return "any authenticated caller"
        where = {
            Scope.TENANT: "in the path's tenant",
            Scope.TENANT_QUERY: "in the `tenant` queried (system admins without one)",
            Scope.WATCHED: "in the tenant of every watched config",
            Scope.SYSTEM: "system-wide (system admins)",
            Scope.SELF: "system-wide, unless the path's user is the caller",
        }[self.scope]
        return f"needs `{self.action}` {where}"


PUBLIC = Access(Scope.PUBLIC)
AUTHENTICATED = Access(Scope.AUTHENTICATED)


def tenant(action: str) -> Access:
    return Access(Scope.TENANT, action)


def system(action: str) -> Access:
    return Access(Scope.SYSTEM, action)


def tenants_of(access: Access, request: web.Request) -> list[str | None]:
    """The tenants an action is asked about for this request (None: system-wide)."""
    match access.scope:
        case Scope.TENANT:
            return [request.match_info["tenant"]]
        case Scope.TENANT_QUERY:
            return [request.query.get("tenant") or None]
        case Scope.WATCHED:
            return list(dict.fromkeys(watched_tenants(request.query.getall("config", []))))
        case _:
            return [None]


def watched_tenants(values: Iterable[str]) -> list[str]:
    """`tenant/app/env/name[:sha]` -> tenant; a malformed value is the handler's 400."""
    return [value.partition("/")[0] for value in values if value.count("/") >= 1]


def build_guard(table: Mapping[tuple[str, str], Access]) -> Middleware:
    """The middleware for routes keyed by (method, path template)."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        match = request.match_info
        if match.http_exception is not None:  # 404/405: nothing to guard
            return await handler(request)
        resource = match.route.resource
        access = table.get((request.method, resource.canonical)) if resource else None
        if access is None:
            log.error("route without an access rule: %s %s", request.method, request.path)
            raise web.HTTPNotFound()
        if access.scope is not Scope.PUBLIC:
            request[PRINCIPAL] = check(request, access)
        return await handler(request)

    return guard


def check(request: web.Request, access: Access) -> Principal:
    control = request.app[ACCESS]
    try:
        who = control.authenticate(request.headers.get("Authorization"))
    except Unauthenticated as error:
        log.info(
            "unauthenticated %s %s from %s (%s)",
            request.method, request.path, request.remote, error.details.get("reason", "bad"),
        )  # fmt: skip
        raise
    if access.scope is Scope.SELF and who.actor == f"user:{request.match_info['user']}":
        return who
    if access.action is not None:
        for name in tenants_of(access, request):
            if not control.allowed(who, access.action, name):
                control.refuse(who, access.action, name, f"{request.method} {request.path}")
    return who
