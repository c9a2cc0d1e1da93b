"""The auth matrix, generated from the router's own route table.

Two halves. `DECISIONS` pins, route by route, who may call it; the access table the
app is built from must equal it, so a new route without a decision here (or a changed
decision) fails until someone writes it down. Then every served route is called by
every kind of caller: nobody, each built-in role bound in tenant `acme`, the
tenant-admin of another tenant, a user without roles, a client API key and a system
admin, and the answer must be what `auth.roles` (the permission table) says: refused
with 401/403 exactly when the role lacks the action. A route the access table does not
know is refused (fail closed).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from conflux_node.api.guard import Access, Scope
from conflux_node.api.openapi import OPENAPI_PATH
from conflux_node.api.routes import ROUTES
from conflux_node.api.server import access_table
from conflux_node.auth import roles
from conflux_node.auth.apikeys import PREFIX, generate_api_key, hash_secret
from conflux_node.consensus.machine import StateMachine
from conflux_node.model.commands import BindRole, CreateApiKey, CreateUser, encode
from conflux_node.storage.memory import MemoryStore
from tests.unit.api.conftest import admin_hash, authed, bearer, make_app, seeded_store, token_for

PATH_VALUES = {
    "tenant": "acme",
    "app": "shop",
    "env": "prod",
    "name": "db",
    "version": "1",
    "user": "nobody",
    "id": "aaaaaaaaaaaa",
}
QUERIES = {
    Scope.TENANT_QUERY: "?tenant=acme",
    Scope.WATCHED: "?config=acme/shop/prod/db&wait=0.05",
}


@dataclass(frozen=True)
class Caller:
    name: str
    credential: Callable[[MemoryStore, str], str] | None
    """(store, the client API key) -> what goes after `Bearer`; None: no credential."""
    role: str | None = None  # a tenant role in `acme`
    system_admin: bool = False


def _seed(store: MemoryStore) -> str:
    """Users for every role in acme, a globex admin, and a client key in acme."""
    machine = StateMachine(store)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    commands: list[Any] = []
    for role in sorted(roles.TENANT_ROLES):
        commands += [
            CreateUser(role, admin_hash(), False, "user:admin", now),
            BindRole("acme", role, role, "user:admin", now),
        ]
    commands += [
        CreateUser("outsider", admin_hash(), False, "user:admin", now),
        BindRole("globex", "outsider", roles.TENANT_ADMIN_ROLE, "user:admin", now),
        CreateUser("nobinding", admin_hash(), False, "user:admin", now),
    ]
    key_id, key = generate_api_key()
    secret = key[len(PREFIX) + len(key_id) + 1 :]
    commands.append(
        CreateApiKey(
            key_id, "acme", "svc", roles.CLIENT, hash_secret(secret), None, "user:admin", now
        )
    )
    first = store.applied_index + 1
    for index, command in enumerate(commands, start=first):
        result = machine.apply_entry(index, encode(command))
        assert not isinstance(result, Exception), result
    return key


CALLERS = [
    Caller("nobody", None),
    *[
        Caller(role, lambda s, _, r=role: token_for(s, f"user:{r}"), role=role)
        for role in sorted(roles.TENANT_ROLES)
    ],
    Caller("other tenant's admin", lambda s, _: token_for(s, "user:outsider")),
    Caller("user without bindings", lambda s, _: token_for(s, "user:nobinding")),
    Caller("client API key", lambda _, key: key, role=roles.CLIENT),
    Caller("system admin", lambda s, _: token_for(s), system_admin=True),
]


def expected_allowed(access: Access, caller: Caller) -> bool:
    """Computed from the permission table, independently of the guard."""
    if access.scope is Scope.PUBLIC:
        return True
    if caller.credential is None:
        return False
    if access.action is None or caller.system_admin:
        return True
    if access.scope in (Scope.SYSTEM, Scope.SELF):  # the path's user is never the caller
        return False
    return caller.role is not None and access.action in roles.permissions_of(caller.role)


def url_of(path: str, access: Access) -> str:
    return re.sub(r"{(\w+)}", lambda m: PATH_VALUES[m.group(1)], path) + QUERIES.get(
        access.scope, ""
    )


TABLE = access_table(metrics_open=True)
CFG = "/api/v1/configs/{tenant}/{app}/{env}/{name}"
TNT = "/api/v1/tenants/{tenant}"
OPEN, ANYONE = Access(Scope.PUBLIC), Access(Scope.AUTHENTICATED)


def _t(action: str) -> Access:
    return Access(Scope.TENANT, action)


def _s(action: str) -> Access:
    return Access(Scope.SYSTEM, action)


DECISIONS: dict[tuple[str, str], Access] = {
    ("GET", "/api/v1/configs/{tenant}/{app}/{env}"): _t(roles.CONFIG_READ),
    ("PUT", CFG): _t(roles.CONFIG_WRITE),
    ("GET", CFG): _t(roles.CONFIG_READ),
    ("DELETE", CFG): _t(roles.CONFIG_WRITE),
    ("POST", CFG + "/versions"): _t(roles.VERSION_CREATE),
    ("GET", CFG + "/versions"): _t(roles.CONFIG_READ),
    ("GET", CFG + "/versions/{version}"): _t(roles.CONFIG_READ),
    ("PUT", CFG + "/release"): _t(roles.RELEASE_WRITE),
    ("GET", CFG + "/release"): _t(roles.CONFIG_READ),
    ("GET", CFG + "/releases"): _t(roles.CONFIG_READ),
    ("GET", "/api/v1/fetch/{tenant}/{app}/{env}/{name}"): _t(roles.FETCH),
    ("GET", "/api/v1/watch"): Access(Scope.WATCHED, roles.WATCH),
    ("POST", "/api/v1/tenants"): _s(roles.TENANT_ADMIN),
    ("GET", "/api/v1/tenants"): _s(roles.TENANT_ADMIN),
    ("GET", TNT): _t(roles.CONFIG_READ),
    ("DELETE", TNT): _s(roles.TENANT_ADMIN),
    ("POST", "/api/v1/users"): _s(roles.USER_ADMIN),
    ("GET", "/api/v1/users"): _s(roles.USER_ADMIN),
    ("GET", "/api/v1/users/{user}"): _s(roles.USER_ADMIN),
    ("DELETE", "/api/v1/users/{user}"): _s(roles.USER_ADMIN),
    ("PUT", "/api/v1/users/{user}/password"): Access(Scope.SELF, roles.USER_ADMIN),
    ("POST", TNT + "/bindings"): _t(roles.BINDING_ADMIN),
    ("GET", TNT + "/bindings"): _t(roles.BINDING_ADMIN),
    ("GET", TNT + "/bindings/{user}"): _t(roles.BINDING_ADMIN),
    ("DELETE", TNT + "/bindings/{user}"): _t(roles.BINDING_ADMIN),
    ("POST", TNT + "/apikeys"): _t(roles.APIKEY_ADMIN),
    ("GET", TNT + "/apikeys"): _t(roles.APIKEY_ADMIN),
    ("GET", TNT + "/apikeys/{id}"): _t(roles.APIKEY_ADMIN),
    ("DELETE", TNT + "/apikeys/{id}"): _t(roles.APIKEY_ADMIN),
    ("GET", "/api/v1/audit"): Access(Scope.TENANT_QUERY, roles.AUDIT_READ),
    ("GET", "/api/v1/audit/retention"): _s(roles.AUDIT_READ),
    ("PUT", "/api/v1/audit/retention"): _s(roles.AUDIT_ADMIN),
    ("POST", "/api/v1/auth/login"): OPEN,
    ("GET", "/api/v1/auth/whoami"): ANYONE,
    ("GET", "/api/v1/cluster/status"): ANYONE,
    ("GET", "/api/v1/cluster/self"): OPEN,
    ("GET", "/api/v1/cluster/digest"): ANYONE,
    ("GET", "/metrics"): OPEN,
    ("GET", "/health"): OPEN,
    ("GET", "/ready"): OPEN,
    ("GET", OPENAPI_PATH): OPEN,
}
"""Who may call each route. Edit this when adding a route: that is the review step."""


def test_every_route_has_the_written_down_decision() -> None:
    missing = sorted(set(TABLE) - set(DECISIONS))
    assert not missing, f"routes without an auth decision in DECISIONS: {missing}"
    differ = {key: (TABLE[key], DECISIONS[key]) for key in TABLE if TABLE[key] != DECISIONS[key]}
    assert not differ, differ
    assert set(DECISIONS) == set(TABLE)


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: c.name)
async def test_every_route_answers_every_caller_as_the_permission_table_says(
    caller: Caller,
) -> None:
    store = seeded_store(("acme", "globex"))
    key = _seed(store)
    app = make_app(store=store)
    headers = bearer(caller.credential(store, key)) if caller.credential else {"Authorization": ""}
    wrong: list[str] = []
    async with authed(app) as client:
        for (method, path), access in sorted(TABLE.items(), key=lambda kv: kv[0][::-1]):
            url = url_of(path, access)
            response = await client.request(method, url, headers=headers, json={})
            allowed = expected_allowed(access, caller)
            status = response.status
            if allowed and status in (401, 403):
                wrong.append(f"{method} {url}: {status}, expected access")
            if not allowed and status != (401 if caller.credential is None else 403):
                wrong.append(f"{method} {url}: {status}, expected a refusal")
    assert not wrong, "\n".join(wrong)


async def test_every_served_route_has_an_access_decision() -> None:
    app = make_app()
    served = set()
    for route in app.router.routes():
        info = route.get_info()
        served.add((route.method, info.get("formatter") or info.get("path")))
    assert served == set(TABLE)
    assert {(r.method, r.path) for r in ROUTES} | {("GET", OPENAPI_PATH)} == set(TABLE)


def test_the_matrix_covers_every_action_and_role() -> None:
    used = {access.action for access in TABLE.values() if access.action}
    assert used == set(roles.ACTIONS)
    assert {c.role for c in CALLERS if c.role} == set(roles.TENANT_ROLES)


async def test_a_route_without_an_access_rule_is_refused() -> None:
    app = make_app()

    async def sneaky(request: web.Request) -> web.Response:
        return web.json_response({"secret": True})

    app.router.add_get("/api/v1/sneaky", sneaky)
    async with authed(app) as client:
        response = await client.get("/api/v1/sneaky")
        assert response.status == 404
        assert "secret" not in await response.text()


async def test_metrics_can_be_closed_by_a_setting() -> None:
    async with authed(make_app(metrics_open=False)) as client:
        assert (await client.get("/metrics", headers={"Authorization": ""})).status == 401
        assert (await client.get("/metrics")).status == 200
        assert (await client.get("/health", headers={"Authorization": ""})).status == 200
        assert (await client.get("/ready", headers={"Authorization": ""})).status == 200
