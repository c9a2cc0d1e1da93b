"""A small synchronous client for the Conflux HTTP API, on the standard library only.

It tries the endpoints in order and moves on when one cannot be reached or answers 503
(no leader yet, or a write whose outcome is unknown is *not* retried: only connection
failures and 503 before the request reached a leader are).

`https://` endpoints are verified against `ca_file` (else the system's store), and
`cert_file`/`key_file` are presented to a node that requires a client certificate.

`token` (a JWT or a `cfx_` API key) is sent as `Authorization: Bearer <token>` with every
request unless the caller passes its own `Authorization` header; it may be changed later
through the `token` attribute.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from conflux.tls import StrPath, TlsFiles


class ApiError(Exception):
    """An error answer from a node, in the `{"error": {code, message, details}}` shape."""

    def __init__(self, status: int, code: str, message: str, details: Mapping[str, Any]) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.details = status, code, message, details


def config_path(tenant: str, app: str, env: str, name: str) -> str:
    parts = "/".join(quote(p, safe="") for p in (tenant, app, env, name))
    return f"/api/v1/configs/{parts}"


class RestClient:
    def __init__(
        self,
        endpoints: Sequence[str] | str,
        timeout: float = 10.0,
        *,
        ca_file: StrPath | None = None,
        cert_file: StrPath | None = None,
        key_file: StrPath | None = None,
        token: str | None = None,
    ) -> None:
        """A file that cannot be loaded raises `conflux.tls.TlsError` (a ValueError) here."""
        self.endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        self.timeout = timeout
        self.token = token
        self.tls = TlsFiles.of(ca_file, cert_file, key_file)
        self._ssl = self.tls.ssl_context() if self.tls.configured else None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Send one request; return (status, decoded JSON or None). Raise ApiError on >= 400."""
        url_path = path + ("?" + urlencode(query) if query else "")
        data = None if body is None else json.dumps(body).encode()
        sent = dict(headers or {})
        if self.token and not any(key.lower() == "authorization" for key in sent):
            sent["Authorization"] = f"Bearer {self.token}"
        last: Exception | None = None
        for base in self.endpoints:
            request = urllib.request.Request(base.rstrip("/") + url_path, data, method=method)  # noqa: S310
            request.add_header("Content-Type", "application/json")
            for key, value in sent.items():
                request.add_header(key, value)
            try:
                with urllib.request.urlopen(  # noqa: S310
                    request, timeout=self.timeout, context=self._ssl
                ) as response:
                    raw = response.read()
                    return response.status, json.loads(raw) if raw else None
            except urllib.error.HTTPError as error:
                failure = _api_error(error)
                if error.code == 304:
                    return 304, None
                if error.code == 503 and failure.code == "no_leader":
                    last = failure
                    continue
                raise failure from None
            except (urllib.error.URLError, OSError) as error:
                last = error
        raise ConnectionError(f"no endpoint answered: {last}")

    def get(self, path: str, **query: str) -> Any:
        return self.request("GET", path, query=query or None)[1]

    def put(self, path: str, body: Any, headers: Mapping[str, str] | None = None) -> Any:
        return self.request("PUT", path, body, headers)[1]

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)[1]

    def delete(self, path: str) -> None:
        self.request("DELETE", path)


def _api_error(error: urllib.error.HTTPError) -> ApiError:
    try:
        payload = json.loads(error.read() or b"{}").get("error", {})
    except ValueError:
        payload = {}
    return ApiError(
        error.code,
        payload.get("code", "http_error"),
        payload.get("message", str(error.reason)),
        payload.get("details", {}),
    )
