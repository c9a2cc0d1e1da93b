"""Fetch: rule evaluation per client, ETag/304 and raw content."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.unit.api.conftest import C, setup_config

Client = TestClient[Any, Any]
F = "/api/v1/fetch/acme/shop/prod/db"


async def released(client: Client, rules: list[dict[str, Any]]) -> None:
    await setup_config(client, ['{"v": 1}', '{"v": 2}'])
    response = await client.put(C + "/release", json={"rules": rules, "default_version": 1})
    assert response.status == 200, await response.text()


async def test_etag_and_304(client: Client) -> None:
    await released(client, [])
    first = await client.get(F)
    etag = first.headers["ETag"]
    assert etag == f'"{(await first.json())["sha256"]}"'
    again = await client.get(F, headers={"If-None-Match": etag})
    assert again.status == 304
    other = await client.get(F, headers={"If-None-Match": '"abc"'})
    assert other.status == 200


async def test_raw_content(client: Client) -> None:
    await released(client, [])
    response = await client.get(F, params={"raw": "1"})
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert await response.text() == '{"v": 1}'
    assert response.headers["X-Conflux-Version"] == "1"


async def test_label_rule_serves_canary(client: Client) -> None:
    await released(client, [{"name": "canary", "match": {"labels": {"zone": "a"}}, "version": 2}])
    canary = await (await client.get(F, params={"labels": "zone=a,tier=web"})).json()
    assert canary["version"] == 2 and canary["rule"] == "canary"
    rest = await (await client.get(F, params={"labels": "zone=b"})).json()
    assert rest["version"] == 1 and rest["rule"] is None


async def test_ip_rule_uses_the_connection_address(client: Client) -> None:
    await released(
        client, [{"name": "local", "match": {"ip_cidrs": ["127.0.0.0/8"]}, "version": 2}]
    )
    assert (await (await client.get(F)).json())["version"] == 2


async def test_percentage_is_sticky_per_client(client: Client) -> None:
    await released(client, [{"name": "half", "match": {"percentage": 50}, "version": 2}])
    served = {}
    for i in range(40):
        body = await (await client.get(F, params={"client_id": f"c{i}"})).json()
        served[i] = body["version"]
    for i in range(40):
        body = await (await client.get(F, params={"client_id": f"c{i}"})).json()
        assert body["version"] == served[i]
    assert set(served.values()) == {1, 2}
    anonymous = await (await client.get(F)).json()
    assert anonymous["version"] == 1


async def test_bad_fetch_queries(client: Client) -> None:
    await released(client, [])
    assert (await client.get(F, params={"labels": "novalue"})).status == 400
    unknown = await client.get(F, params={"colour": "red"})
    assert unknown.status == 400
    assert (await unknown.json())["error"]["details"]["field"] == "colour"


async def test_unreleased_config_is_404(client: Client) -> None:
    await setup_config(client, ['{"v": 1}'])
    response = await client.get(F)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "release_not_found"
