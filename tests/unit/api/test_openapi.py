"""Every route the router serves is in the OpenAPI document, and vice versa."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.unit.api.conftest import make_app

Client = TestClient[Any, Any]


def served_routes() -> set[tuple[str, str]]:
    app = make_app()
    routes = set()
    for route in app.router.routes():
        info = route.get_info()
        path = info.get("formatter") or info.get("path")
        if route.method != "HEAD" and path:
            routes.add((route.method.lower(), path))
    return routes


async def test_openapi_covers_every_route(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    documented = {(method, path) for path, ops in document["paths"].items() for method in ops}
    assert served_routes() == documented


async def test_error_responses_reference_the_error_schema(client: Client) -> None:
    document = await (await client.get("/api/v1/openapi.json")).json()
    fetch = document["paths"]["/api/v1/fetch/{tenant}/{app}/{env}/{name}"]["get"]
    assert fetch["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    names = {p["name"] for p in fetch["parameters"]}
    assert {"tenant", "app", "env", "name", "client_id", "labels", "If-None-Match"} <= names
