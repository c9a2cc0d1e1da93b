"""The poller (the safety net when the stream is silent) and the HTTP fetcher under it."""

from __future__ import annotations

import asyncio

import pytest

from conflux import ApiError, AsyncConfluxClient, Backoff, ChangeEvent, Snapshot
from conflux.poller import NOT_MODIFIED, HttpFetcher, Poller, Unreachable

from .conftest import (
    APP,
    ENV,
    TENANT,
    FakeCenter,
    Node,
    closed_port,
    fetch_app,
    sha,
    start_http,
    wait_until,
)


async def test_poller_catches_up_when_the_stream_yields_nothing(node: Node) -> None:
    node.center.push = False  # the stream stays open but never delivers a change
    node.center.publish("db", '{"a": 1}')
    events: list[ChangeEvent] = []
    client = AsyncConfluxClient(
        [node.http],
        TENANT,
        APP,
        ENV,
        grpc_endpoints=[node.target],
        poll_interval=0.2,
        backoff=Backoff(0.02, 0.2),
    )
    async with client:
        client.on_change(events.append)
        db = await client.config("db")
        await wait_until(lambda: node.center.streams)
        opened = len(node.center.requests)
        node.center.publish("db", '{"a": 2, "b": true}')
        await wait_until(lambda: events)
        assert db.get_int("a") == 2 and db.get_bool("b") is True
        assert events[0].changed_keys == {"a", "b"}
        # the apparently stuck stream is reopened, holding what the poll brought
        await wait_until(lambda: len(node.center.requests) > opened)
        assert node.center.requests[-1].configs[0].sha256 == sha('{"a": 2, "b": true}')
        # unchanged configs are polled with If-None-Match and cause no event
        polled = len(node.center.fetches)
        await wait_until(lambda: len(node.center.fetches) >= polled + 2)
        assert len(events) == 1


async def test_poller_survives_all_nodes_down(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    client = AsyncConfluxClient(
        [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], poll_interval=None
    )
    async with client:
        await client.config("db")
        assert client._poller is None
    fetcher = HttpFetcher([f"http://127.0.0.1:{closed_port()}"], TENANT, APP, ENV)
    poller = Poller(fetcher, client, interval=1.0)
    assert await poller.poll_once() == 0  # logs, does not raise


async def test_a_stale_poll_result_does_not_overwrite_a_newer_push(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    client = AsyncConfluxClient(
        [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], poll_interval=None
    )
    async with client:
        db = await client.config("db")
        await wait_until(lambda: node.center.streams)
        _, generation = client.watched()["db"]  # a poll starts here...
        node.center.publish("db", '{"a": 2}')  # ...the stream delivers v2 meanwhile...
        await wait_until(lambda: db.version == 2)
        old = Snapshot("db", 1, 1, sha('{"a": 1}'), "json", '{"a": 1}')
        assert not await client.offer("db", old, generation)  # ...and v1 comes back late
        assert db.get_int("a") == 2


async def test_fetcher_fails_over_and_reads_answers() -> None:
    center = FakeCenter()
    center.publish("db", "x=1", fmt="properties")
    broken, stop_broken = await start_http(fetch_app(center, status=lambda: 503))
    good, stop_good = await start_http(fetch_app(center))
    try:
        down = f"http://127.0.0.1:{closed_port()}"
        fetcher = HttpFetcher([down, broken, good], TENANT, APP, ENV, token="t")
        snapshot = await asyncio.to_thread(fetcher.fetch, "db")
        assert isinstance(snapshot, Snapshot)
        assert snapshot.get_int("x") == 1 and snapshot.sha256 == sha("x=1")
        assert await asyncio.to_thread(fetcher.fetch, "db", sha("x=1")) is NOT_MODIFIED
        assert await asyncio.to_thread(fetcher.fetch, "nope") is None
        assert len(center.fetches) == 4  # 503 once, then the good node is tried first

        refusing, stop_refusing = await start_http(fetch_app(center, status=lambda: 403))
        try:
            with pytest.raises(ApiError) as info:
                await asyncio.to_thread(HttpFetcher([refusing], TENANT, APP, ENV).fetch, "db")
            assert info.value.status == 403
        finally:
            await stop_refusing()
        with pytest.raises(Unreachable, match="no endpoint answered"):
            await asyncio.to_thread(HttpFetcher([down, broken], TENANT, APP, ENV).fetch, "db")
    finally:
        await stop_broken()
        await stop_good()
