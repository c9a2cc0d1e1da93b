"""GET /api/v1/watch: immediate answer, change within the wait, 304 on timeout."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from tests.unit.api.conftest import C, setup_config

W = "/api/v1/watch"
Client = TestClient[Any, Any]


async def released(client: Client) -> str:
    await setup_config(client, ['{"v": 1}', '{"v": 2}'])
    await client.put(C + "/release", json={"default_version": 1})
    fetched = await (await client.get("/api/v1/fetch/acme/shop/prod/db")).json()
    return str(fetched["sha256"])


async def test_answers_at_once_when_the_client_is_behind(client: Client) -> None:
    await released(client)
    response = await client.get(W, params={"config": "acme/shop/prod/db", "wait": "5"})
    assert response.status == 200
    (update,) = (await response.json())["updates"]
    assert update["name"] == "db" and update["version"] == 1 and update["absent"] is False


async def test_waits_for_a_change_then_answers(client: Client) -> None:
    sha = await released(client)

    async def promote() -> None:
        await asyncio.sleep(0.2)
        await client.put(C + "/release", json={"default_version": 2})

    task = asyncio.create_task(promote())
    response = await client.get(W, params={"config": f"acme/shop/prod/db:{sha}", "wait": "10"})
    await task
    assert response.status == 200
    assert (await response.json())["updates"][0]["version"] == 2


async def test_times_out_with_304(client: Client) -> None:
    sha = await released(client)
    response = await client.get(W, params={"config": f"acme/shop/prod/db:{sha}", "wait": "0.2"})
    assert response.status == 304


async def test_unknown_config_is_absent_not_an_error(client: Client) -> None:
    response = await client.get(W, params={"config": "acme/shop/prod/nope:abc", "wait": "1"})
    assert response.status == 200
    assert (await response.json())["updates"][0]["absent"] is True


async def test_bad_watch_queries(client: Client) -> None:
    bad: list[dict[str, str]] = [
        {},
        {"config": "acme/shop/db"},
        {"config": "A/b/c/d"},
        {"config": "a/b/c/d", "wait": "600"},
        {"config": "a/b/c/d", "x": "1"},
    ]
    for params in bad:
        response = await client.get(W, params=params)
        assert response.status == 400, params
