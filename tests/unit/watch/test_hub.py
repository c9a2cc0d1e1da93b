"""The watch hub over the real app, store and state machine (in-process)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from conflux_node.api.context import HUB
from conflux_node.model.entities import ClientIdentity
from conflux_node.model.names import Coords
from conflux_node.service.watch import WatchHub
from tests.unit.api.conftest import C, authed, make_app, setup_config

DB = Coords("acme", "shop", "prod", "db")
Client = TestClient[Any, Any]


async def drain() -> None:
    for _ in range(3):
        await asyncio.sleep(0)  # let call_soon_threadsafe dispatches run


async def release(client: Client, body: dict[str, Any]) -> None:
    response = await client.put(C + "/release", json=body)
    assert response.status == 200, await response.text()


async def test_initial_difference_then_changes() -> None:
    async with authed(make_app()) as client:
        hub: WatchHub = client.app[HUB]
        await setup_config(client, ['{"v": 1}', '{"v": 2}'])
        await release(client, {"default_version": 1})
        watcher = hub.watch(ClientIdentity("pod-1"), {DB: ""})
        assert [u.served.version for u in watcher.initial if u.served] == [1]
        current = watcher.initial[0].sha256
        same = hub.watch(ClientIdentity("pod-2"), {DB: current})
        assert same.initial == []
        await release(client, {"default_version": 2})
        await drain()
        for w in (watcher, same):
            batch = await asyncio.wait_for(w.next(), 1)
            assert batch is not None and batch[0].served is not None
            assert batch[0].served.version == 2
        assert hub.watcher_count == 2
        hub.unwatch(watcher)
        hub.unwatch(same)
        assert hub.watcher_count == 0


async def test_canary_change_notifies_only_matching_clients() -> None:
    async with authed(make_app()) as client:
        hub: WatchHub = client.app[HUB]
        await setup_config(client, ['{"v": 1}', '{"v": 2}'])
        await release(client, {"default_version": 1})
        zone_a = hub.watch(ClientIdentity("a1", {"zone": "a"}), {DB: ""})
        zone_b = hub.watch(ClientIdentity("b1", {"zone": "b"}), {DB: ""})
        canary = {"name": "canary", "match": {"labels": {"zone": "a"}}, "version": 2}
        await release(client, {"rules": [canary], "default_version": 1})
        await drain()
        batch = zone_a.queue.get_nowait()
        assert batch[0].served is not None and batch[0].served.rule == "canary"
        assert zone_b.queue.empty()


async def test_deleted_config_is_reported_absent() -> None:
    async with authed(make_app()) as client:
        hub: WatchHub = client.app[HUB]
        await setup_config(client, ['{"v": 1}'])
        await release(client, {"default_version": 1})
        watcher = hub.watch(ClientIdentity("pod"), {DB: ""})
        assert (await client.delete(C)).status == 204
        await drain()
        batch = watcher.queue.get_nowait()
        assert batch[0].served is None and batch[0].sha256 == ""


async def test_slow_watcher_is_dropped_and_told_to_resync() -> None:
    async with authed(make_app()) as client:
        hub: WatchHub = client.app[HUB]
        hub._queue_size = 2
        await setup_config(client, [f'{{"v": {i}}}' for i in range(1, 5)])
        await release(client, {"default_version": 1})
        slow = hub.watch(ClientIdentity("slow"), {DB: ""})
        fast = hub.watch(ClientIdentity("fast"), {DB: ""})
        for version in (2, 3, 4):
            await release(client, {"default_version": version})
            await drain()
            assert (await asyncio.wait_for(fast.next(), 1)) is not None
        assert slow.dropped
        assert await slow.next() is None
        assert hub.dropped_total == 1
