"""Build the OpenAPI 3 document from the route table."""

from __future__ import annotations

import re
from typing import Any

from conflux_node import __version__
from conflux_node.api.guard import Access, Scope
from conflux_node.api.routes import Route

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "object"},
            },
        }
    },
}
OPENAPI_PATH = "/api/v1/openapi.json"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "a JWT from /api/v1/auth/login, or an API key `cfx_<id>_<secret>`",
}
AUTH_RESPONSES = {401: "missing, malformed, tampered, expired or revoked credential"}
FORBIDDEN = {403: "the caller's roles do not grant this action here"}


def _auth_responses(access: Access) -> dict[int, str]:
    if access.scope is Scope.PUBLIC:
        return {}
    if access.action is None:
        return AUTH_RESPONSES
    return {**AUTH_RESPONSES, **FORBIDDEN}


def _operation(route: Route) -> dict[str, Any]:
    params = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
        for n in re.findall(r"{(\w+)}", route.path)
    ]
    params += [{"name": p.name, "in": "query", "description": p.description,
                "schema": dict(p.schema)} for p in route.query]  # fmt: skip
    params += [{"name": p.name, "in": "header", "description": p.description,
                "schema": dict(p.schema)} for p in route.headers]  # fmt: skip
    responses = {**_auth_responses(route.access), **route.responses}
    op: dict[str, Any] = {
        "summary": route.summary,
        "description": "Access: " + route.access.describe() + ".",
        "operationId": route.handler.__name__,
        "tags": [route.tag],
        "parameters": params,
        "responses": {str(code): _response(code, text) for code, text in sorted(responses.items())},
        "security": [] if route.access.scope is Scope.PUBLIC else [{"bearer": []}],
    }
    if route.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(route.body)}},
        }
    return op


def _response(code: int, text: str) -> dict[str, Any]:
    if code >= 400:
        ref = {"$ref": "#/components/schemas/Error"}
        return {"description": text, "content": {"application/json": {"schema": ref}}}
    return {"description": text}


def build_openapi(routes: tuple[Route, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    paths[OPENAPI_PATH] = {
        "get": {
            "summary": "This document",
            "operationId": "openapi",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3 document"}},
        }
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Conflux node API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": BEARER},
        },
        "security": [{"bearer": []}],
    }
