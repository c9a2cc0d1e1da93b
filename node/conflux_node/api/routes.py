"""The route table: every HTTP route with what the OpenAPI document says about it.

The aiohttp router and `/api/v1/openapi.json` are both built from `ROUTES`, so a route
cannot exist without being documented.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from conflux_node.api import admin, auth, cluster, configs, fetch, watch
from conflux_node.api.guard import AUTHENTICATED, PUBLIC, Access, Scope, system, tenant
from conflux_node.auth import roles as r

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
C = "/api/v1/configs/{tenant}/{app}/{env}/{name}"


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    responses: Mapping[int, str]
    access: Access
    body: Mapping[str, Any] | None = None
    query: tuple[Param, ...] = ()
    headers: tuple[Param, ...] = ()


LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
CONFIG_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["format"],
    "properties": {
        "format": {"enum": ["json", "yaml", "toml", "properties", "text"]},
        "schema": {"type": "object", "description": "JSON Schema (structured formats only)"},
        "labels": LABELS,
        "retention": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "keep_last": {"type": "integer", "minimum": 1},
                "keep_days": {"type": "integer", "minimum": 1},
            },
        },
        "encrypted": {"type": "boolean"},
        "separate_releaser": {
            "type": "boolean",
            "description": "the author of a version may not release it (403 releaser_is_author)",
        },
    },
}
VERSION_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["content"],
    "properties": {"content": {"type": "string"}, "message": {"type": "string"}},
}
MATCH = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "labels": LABELS,
        "ip_cidrs": {"type": "array", "items": {"type": "string"}},
        "client_ids": {"type": "array", "items": {"type": "string"}},
        "percentage": {"type": "number", "minimum": 0, "maximum": 100},
    },
}
RELEASE_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["default_version"],
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "version"],
                "properties": {
                    "name": {"type": "string"},
                    "match": MATCH,
                    "version": {"type": "integer", "minimum": 1},
                },
            },
        },
        "default_version": {"type": "integer", "minimum": 1},
        "message": {"type": "string"},
    },
}
PAGE = (
    Param("limit", "page size, 1..100 (default 20)", {"type": "integer"}),
    Param("after", "the `next` cursor of the previous page", {"type": "integer"}),
)
BAD = {400: "malformed input", 404: "unknown config", 503: "no leader; retry (Retry-After)"}

# Identity and audit.
NAME = {"type": "string", "pattern": "^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$", "maxLength": 63}
ROLE = {"enum": ["tenant-admin", "editor", "releaser", "viewer", "client"]}
TENANT_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {"name": NAME},
}
USER_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "password"],
    "properties": {
        "username": NAME,
        "password": {"type": "string", "maxLength": 1024},
        "system_admin": {"type": "boolean"},
    },
}
PASSWORD_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["password"],
    "properties": {
        "password": {"type": "string", "maxLength": 1024},
        "current_password": {"type": "string", "description": "needed for your own password"},
    },
}
BINDING_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["user", "role"],
    "properties": {"user": NAME, "role": ROLE},
}
APIKEY_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "role"],
    "properties": {
        "name": NAME,
        "role": ROLE,
        "expires_at": {"type": "string", "format": "date-time"},
    },
}
LIMIT = {"type": ["integer", "null"], "minimum": 1}
RETENTION_BODY = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "keep_last": {**LIMIT, "description": "keep at most this many newest records"},
        "keep_days": {**LIMIT, "description": "drop records older than this many days"},
    },
}
LOGIN_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "password"],
    "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
}
T = "/api/v1/tenants/{tenant}"
W = {400: "malformed input", 503: "no leader; retry (Retry-After)"}
AUDIT_QUERY = (
    Param("tenant", "only records of this tenant"),
    Param("actor", "only records of this actor, e.g. user:admin"),
    Param("since", "only records at or after this ISO-8601 time (with offset)"),
    Param(
        "after", "the `next` cursor (a sequence number) of the previous page", {"type": "integer"}
    ),
    Param("limit", "page size, 1..1000 (default 100)", {"type": "integer"}),
)
AUTH_HEADER = (Param("Authorization", "Bearer <token from login> or Bearer cfx_<API key>"),)

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/v1/configs/{tenant}/{app}/{env}", configs.list_configs,
          "List the configs of one tenant/app/env by name", "configs",
          {200: "a page: {items: [{name, format, labels, latest_version, release_revision,"
                " updated_at}], next}", 400: "bad name or query"},
          query=(Param("limit", "page size, 1..100 (default 20)", {"type": "integer"}),
                 Param("after", "the `next` cursor (a config name) of the previous page")),
          access=tenant(r.CONFIG_READ)),
    Route("PUT", C, configs.put_config, "Create or update a config", "configs",
          {201: "created", 200: "updated", **BAD, 404: "unknown tenant (tenant_not_found)",
           409: "format change", 422: "bad schema"},
          body=CONFIG_BODY,
          access=tenant(r.CONFIG_WRITE)),
    Route("GET", C, configs.get_config, "Config metadata, latest version, current release",
          "configs", {200: "the config", 404: "unknown config"},
          access=tenant(r.CONFIG_READ)),
    Route("DELETE", C, configs.delete_config, "Delete a config with its versions and releases",
          "configs", {204: "deleted", **BAD},
          access=tenant(r.CONFIG_WRITE)),
    Route("POST", C + "/versions", configs.create_version, "Create a version", "versions",
          {201: "created", 200: "same content as the latest: that version, created false",
           **BAD, 413: "content too large", 422: "content fails its format or schema"},
          body=VERSION_BODY,
          access=tenant(r.VERSION_CREATE)),
    Route("GET", C + "/versions", configs.list_versions, "List versions, newest first",
          "versions", {200: "a page: {items, next}", **BAD}, query=PAGE,
          access=tenant(r.CONFIG_READ)),
    Route("GET", C + "/versions/{version}", configs.get_version, "One version with content",
          "versions", {200: "the version", 404: "unknown config or version"},
          access=tenant(r.CONFIG_READ)),
    Route("PUT", C + "/release", configs.put_release, "Set the release (rules + default)",
          "releases", {200: "{revision}", **BAD, 403: "forbidden, or releaser_is_author",
                       412: "If-Match revision is stale",
                       422: "a named version does not exist"},
          body=RELEASE_BODY,
          headers=(Param("If-Match", "expected current release revision"),),
          access=tenant(r.RELEASE_WRITE)),
    Route("GET", C + "/release", configs.get_release, "The current release", "releases",
          {200: "the release", 404: "unknown config or no release yet"},
          access=tenant(r.CONFIG_READ)),
    Route("GET", C + "/releases", configs.list_releases, "Release history, newest first",
          "releases", {200: "a page: {items, next}", **BAD}, query=PAGE,
          access=tenant(r.CONFIG_READ)),
    Route("GET", "/api/v1/fetch/{tenant}/{app}/{env}/{name}", fetch.fetch,
          "What this client is served", "fetch",
          {200: "{version, release_revision, sha256, format, content, rule}",
           304: "If-None-Match matched the ETag", **BAD},
          query=(Param("client_id", "sticky identity for percentage rules"),
                 Param("labels", "client labels: k=v,k2=v2"),
                 Param("raw", "1 returns the content itself")),
          headers=(Param("If-None-Match", "the sha256 (ETag) the client holds"),),
          access=tenant(r.FETCH)),
    Route("GET", "/api/v1/watch", watch.long_poll,
          "Long-poll: answer when what this client is served differs from what it holds",
          "fetch",
          {200: "{updates: [{tenant, app, env, name, absent, version, release_revision, sha256,"
                " format, content, rule}]}", 304: "nothing changed within `wait`",
           400: "bad query"},
          query=(Param("config", "tenant/app/env/name[:sha256 held]; repeat per config"),
                 Param("client_id", "sticky identity for percentage rules"),
                 Param("labels", "client labels: k=v,k2=v2"),
                 Param("wait", "seconds to wait, up to 60 (default 30)",
                       {"type": "number"})),
          access=watch.ACCESS),
    Route("POST", "/api/v1/tenants", admin.create_tenant, "Create a tenant", "admin",
          {201: "the tenant", **W, 409: "the tenant exists"}, body=TENANT_BODY,
          access=system(r.TENANT_ADMIN)),
    Route("GET", "/api/v1/tenants", admin.list_tenants, "List tenants", "admin",
          {200: "{items}"},
          access=system(r.TENANT_ADMIN)),
    Route("GET", T, admin.get_tenant, "One tenant", "admin",
          {200: "the tenant", 400: "bad name", 404: "unknown tenant"},
          access=tenant(r.CONFIG_READ)),
    Route("DELETE", T, admin.delete_tenant,
          "Delete a tenant with its bindings and API keys (it must hold no configs)", "admin",
          {200: "{deleted, removed_bindings, removed_api_keys}", **W,
           404: "unknown tenant", 409: "the tenant still has configs"},
          access=system(r.TENANT_ADMIN)),
    Route("POST", "/api/v1/users", admin.create_user,
          "Create a user (the password is stored as an argon2id hash)", "admin",
          {201: "the user, without its hash", **W, 409: "the user exists"}, body=USER_BODY,
          access=system(r.USER_ADMIN)),
    Route("GET", "/api/v1/users", admin.list_users, "List users (never their hashes)", "admin",
          {200: "{items}"},
          access=system(r.USER_ADMIN)),
    Route("GET", "/api/v1/users/{user}", admin.get_user, "One user and its tenant roles",
          "admin", {200: "the user", 400: "bad name", 404: "unknown user"},
          access=system(r.USER_ADMIN)),
    Route("PUT", "/api/v1/users/{user}/password", admin.set_password,
          "Change a password; your own needs `current_password`. Older tokens stop working",
          "admin", {204: "changed", **W, 403: "forbidden, or a wrong current_password",
                    404: "unknown user"}, body=PASSWORD_BODY,
          access=Access(Scope.SELF, r.USER_ADMIN)),
    Route("DELETE", "/api/v1/users/{user}", admin.delete_user,
          "Delete a user with its bindings", "admin",
          {204: "deleted", **W, 404: "unknown user"},
          access=system(r.USER_ADMIN)),
    Route("POST", T + "/bindings", admin.create_binding, "Give a user a role in a tenant",
          "admin", {201: "the binding", **W, 404: "unknown tenant or user",
                    409: "the user already holds a role there"}, body=BINDING_BODY,
          access=tenant(r.BINDING_ADMIN)),
    Route("GET", T + "/bindings", admin.list_bindings, "The role bindings of a tenant",
          "admin", {200: "{items}", 400: "bad name", 404: "unknown tenant"},
          access=tenant(r.BINDING_ADMIN)),
    Route("GET", T + "/bindings/{user}", admin.get_binding, "One user's role in a tenant",
          "admin", {200: "the binding", 400: "bad name", 404: "no such binding"},
          access=tenant(r.BINDING_ADMIN)),
    Route("DELETE", T + "/bindings/{user}", admin.delete_binding,
          "Remove a user's role in a tenant", "admin",
          {204: "removed", **W, 404: "no such binding"},
          access=tenant(r.BINDING_ADMIN)),
    Route("POST", T + "/apikeys", admin.create_api_key,
          "Create an API key; the answer's `key` is shown this once and never stored",
          "admin", {201: "{id, key, tenant, name, role, expires_at, ...}", **W,
                    404: "unknown tenant", 409: "a live key of that name exists"},
          body=APIKEY_BODY,
          access=tenant(r.APIKEY_ADMIN)),
    Route("GET", T + "/apikeys", admin.list_api_keys,
          "The API keys of a tenant (never the key or its hash)", "admin",
          {200: "{items}", 400: "bad name", 404: "unknown tenant"},
          access=tenant(r.APIKEY_ADMIN)),
    Route("GET", T + "/apikeys/{id}", admin.get_api_key,
          "One API key of a tenant (never the key or its hash)", "admin",
          {200: "{id, tenant, name, role, created_at, expires_at, revoked_at, ...}",
           400: "bad name", 404: "unknown key"},
          access=tenant(r.APIKEY_ADMIN)),
    Route("DELETE", T + "/apikeys/{id}", admin.revoke_api_key, "Revoke an API key", "admin",
          {200: "{revoked, revoked_at}", **W, 404: "unknown key"},
          access=tenant(r.APIKEY_ADMIN)),
    Route("GET", "/api/v1/audit", admin.audit,
          "The audit log, oldest first: actor, action, target, time, outcome", "admin",
          {200: "a page: {items, next}", 400: "bad query"}, query=AUDIT_QUERY,
          access=Access(Scope.TENANT_QUERY, r.AUDIT_READ)),
    Route("GET", "/api/v1/audit/retention", admin.get_audit_retention,
          "How long the audit log keeps records (null: no limit of that kind)", "admin",
          {200: "{keep_last, keep_days}"},
          access=system(r.AUDIT_READ)),
    Route("PUT", "/api/v1/audit/retention", admin.put_audit_retention,
          "Set the audit log's retention; older records are pruned a few per command",
          "admin", {200: "{keep_last, keep_days}", **W}, body=RETENTION_BODY,
          access=system(r.AUDIT_ADMIN)),
    Route("POST", "/api/v1/auth/login", auth.login, "Log in with a password; returns a JWT",
          "auth", {200: "{token, expires_at}", 400: "malformed input",
                   401: "wrong username or password",
                   429: "too many attempts for this user from this address (Retry-After)",
                   503: "not bootstrapped yet"}, body=LOGIN_BODY,
          access=PUBLIC),
    Route("GET", "/api/v1/auth/whoami", auth.whoami, "Who the presented credential is", "auth",
          {200: "{subject, kind, tenant?, role?, system_admin}",
           401: "missing, malformed, tampered, expired or revoked credential"},
          headers=AUTH_HEADER,
          access=AUTHENTICATED),
    Route("GET", "/api/v1/cluster/status", cluster.cluster_status, "Members and their roles",
          "cluster", {200: "{self, leader, members}"},
          access=AUTHENTICATED),
    Route("GET", "/api/v1/cluster/self", cluster.cluster_self, "This node's Raft position",
          "cluster", {200: "this node"},
          access=PUBLIC),
    Route("GET", "/api/v1/cluster/digest", cluster.cluster_digest,
          "A sha256 of this node's whole state, with the index it was taken at", "cluster",
          {200: "{id, last_applied, digest, settled}"},
          access=AUTHENTICATED),
    Route("GET", "/metrics", cluster.metrics, "Prometheus metrics of this node", "health",
          {200: "text/plain exposition format"},
          access=PUBLIC),
    Route("GET", "/health", cluster.health, "The process is up", "health", {200: "up"},
          access=PUBLIC),
    Route("GET", "/ready", cluster.ready, "A leader exists and this node caught up", "health",
          {200: "ready", 503: "not ready"},
          access=PUBLIC),
)  # fmt: skip
