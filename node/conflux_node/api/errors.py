"""The one table that maps domain errors to HTTP statuses, and the middleware that
applies it. Nothing leaves this edge as a stack trace: an unexpected exception is
logged here and answered as a plain 500 `internal` error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from conflux_node.auth import errors as auth
from conflux_node.model import errors as e

log = logging.getLogger(__name__)

STATUS: dict[type[e.ConfluxError], int] = {
    e.MalformedBody: 400,
    e.UnknownField: 400,
    e.InvalidName: 400,
    e.InvalidInput: 400,
    e.InvalidSchema: 422,
    e.ContentInvalid: 422,
    e.SchemaViolation: 422,
    e.ReleaseVersionMissing: 422,
    e.ContentTooLarge: 413,
    e.ConfigNotFound: 404,
    e.VersionNotFound: 404,
    e.ReleaseNotFound: 404,
    e.TenantNotFound: 404,
    e.UserNotFound: 404,
    e.BindingNotFound: 404,
    e.ApiKeyNotFound: 404,
    e.RevisionMismatch: 412,
    e.Conflict: 409,
    e.ReleaserIsAuthor: 403,
    e.NoLeader: 503,
    e.Unavailable: 503,
    auth.Unauthenticated: 401,
    auth.Forbidden: 403,
    auth.TooManyRequests: 429,
}

RETRY_AFTER_SECONDS = "1"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def status_of(error: e.ConfluxError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_response(
    code: str, message: str, status: int, details: dict[str, Any] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details or {}}}
    headers: dict[str, str] = {}
    if status == 503:
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    elif status == 429:
        headers["Retry-After"] = str((details or {}).get("retry_after", 60))
    elif status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="conflux"'
    return web.json_response(body, status=status, headers=headers or None)


def from_domain(error: e.ConfluxError) -> web.Response:
    return error_response(error.code, error.message, status_of(error), error.details)


_HTTP_CODES = {
    404: ("route_not_found", "no such route"),
    405: ("method_not_allowed", "method not allowed on this route"),
    413: ("content_too_large", "the request body is too large"),
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except e.ConfluxError as error:
        return from_domain(error)
    except web.HTTPException as http:
        if http.status < 400:
            raise
        code, message = _HTTP_CODES.get(http.status, ("http_error", http.reason))
        return error_response(code, message, http.status)
    except json.JSONDecodeError as bad:
        return error_response(
            "malformed_body", f"the body is not valid JSON: {bad.msg}", 400, {"field": "body"}
        )
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response("internal", "internal error; see the node's log", 500)
