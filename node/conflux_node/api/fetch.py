"""`GET /api/v1/fetch/...`: what a client is served, with ETag and 304 support.

The client's IP for `ip_cidrs` rules is the connection's peer address; headers such
as X-Forwarded-For are not trusted.
"""

from __future__ import annotations

from aiohttp import web

from conflux_node.api.context import READS, coords_of
from conflux_node.model.entities import ClientIdentity
from conflux_node.model.errors import InvalidInput

CONTENT_TYPES = {
    "json": "application/json",
    "yaml": "application/yaml",
    "toml": "application/toml",
    "properties": "text/x-java-properties",
    "text": "text/plain",
}
QUERY = {"client_id", "labels", "raw"}


def parse_labels_query(raw: str | None) -> dict[str, str]:
    """`k=v,k2=v2` -> {"k": "v", "k2": "v2"}."""
    labels: dict[str, str] = {}
    if not raw:
        return labels
    for pair in raw.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput("labels must look like k=v,k2=v2", field="labels")
        labels[key.strip()] = value.strip()
    return labels


def client_of(request: web.Request) -> ClientIdentity:
    query = request.query
    for name in query:
        if name not in QUERY:
            raise InvalidInput(f"unknown query parameter '{name}'", field=name)
    client_id = query.get("client_id") or None
    if client_id is not None and len(client_id) > 256:
        raise InvalidInput("client_id must be at most 256 characters", field="client_id")
    return ClientIdentity(client_id, parse_labels_query(query.get("labels")), request.remote)


def _etag_matches(header: str | None, sha: str) -> bool:
    if not header:
        return False
    tags = {tag.strip().removeprefix("W/").strip('"') for tag in header.split(",")}
    return sha in tags or "*" in tags


async def fetch(request: web.Request) -> web.StreamResponse:
    served = request.app[READS].fetch(coords_of(request), client_of(request))
    headers = {
        "ETag": f'"{served.sha256}"',
        "X-Conflux-Version": str(served.version),
        "X-Conflux-Release-Revision": str(served.release_revision),
    }
    if _etag_matches(request.headers.get("If-None-Match"), served.sha256):
        return web.Response(status=304, headers=headers)
    if request.query.get("raw") in ("1", "true"):
        return web.Response(
            text=served.content,
            content_type=CONTENT_TYPES[served.format],
            charset="utf-8",
            headers=headers,
        )
    return web.json_response(served.to_json(), headers=headers)
