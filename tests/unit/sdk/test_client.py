"""AsyncConfluxClient and ConfluxClient against in-process fake nodes."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from conflux import AsyncConfluxClient, Backoff, ChangeEvent, ConfigKeyError, ConfluxClient
from conflux.aio import grpc_target

from .conftest import APP, ENV, TENANT, Node, closed_port, sha, wait_until

FAST = Backoff(base=0.02, cap=0.2)


def client_for(node: Node, **kwargs: Any) -> AsyncConfluxClient:
    kwargs.setdefault("poll_interval", None)
    return AsyncConfluxClient(
        [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], backoff=FAST, **kwargs
    )


def test_grpc_target_is_http_port_plus_ten() -> None:
    assert grpc_target("http://127.0.0.1:7081") == "127.0.0.1:7091"
    assert grpc_target("https://conflux.example/") == "conflux.example:453"
    assert grpc_target("http://[::1]:7082/") == "[::1]:7092"


def test_bad_names_are_refused() -> None:
    with pytest.raises(ValueError, match="tenant"):
        AsyncConfluxClient(["http://x:1"], "Bad/Tenant", APP, ENV)
    with pytest.raises(ValueError, match="label"):
        AsyncConfluxClient(["http://x:1"], TENANT, APP, ENV, labels={"a,b": "1"})


async def test_change_reaches_view_and_listener_with_changed_keys(node: Node) -> None:
    node.center.publish("db", '{"pool": {"size": 5, "timeout": 1}, "host": "a"}')
    events: list[ChangeEvent] = []
    async with client_for(node, client_id="c1", labels={"zone": "z1"}) as client:
        client.on_change(events.append)
        db = await client.config("db")
        assert db.get_int("pool.size") == 5
        assert events == []  # the first load is not a change
        await wait_until(lambda: node.center.streams)

        node.center.publish("db", '{"pool": {"size": 9, "timeout": 1}, "host": "a", "new": 1}')
        await wait_until(lambda: events)
        assert db.get_int("pool.size") == 9
        assert db.version == 2
        (event,) = events
        assert event.name == "db"
        assert event.old is not None and event.old.get_int("pool.size") == 5
        assert event.new is not None and event.new.version == 2
        assert event.changed_keys == {"pool", "pool.size", "new"}
    request = node.center.requests[-1]
    assert request.client_id == "c1"
    assert dict(request.labels) == {"zone": "z1"}
    assert node.center.fetches[0][1] == {"client_id": "c1", "labels": "zone=z1"}


async def test_absent_config_then_deleted(node: Node) -> None:
    events: list[ChangeEvent] = []
    async with client_for(node) as client:
        client.on_change(events.append, name="later")
        view = await client.config("later")
        assert not view.available
        assert view.get_int("x", default=3) == 3
        with pytest.raises(ConfigKeyError, match="not available"):
            view.get_int("x")
        await wait_until(lambda: node.center.streams)
        node.center.publish("later", '{"x": 1}')
        await wait_until(lambda: len(events) == 1)
        assert view.get_int("x") == 1 and events[0].old is None
        node.center.delete("later")
        await wait_until(lambda: len(events) == 2)
        assert events[1].new is None and events[1].changed_keys == {"x"}
        assert view.get_int("x", default=7) == 7


async def test_a_raising_listener_does_not_stop_the_others(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    seen: list[int] = []

    def bad(event: ChangeEvent) -> None:
        raise RuntimeError("listener bug")

    async def good(event: ChangeEvent) -> None:
        assert event.new is not None
        seen.append(event.new.get_int("a"))

    async with client_for(node) as client:
        client.on_change(bad)
        client.on_change(good)
        await client.config("db")
        await wait_until(lambda: node.center.streams)
        node.center.publish("db", '{"a": 2}')
        await wait_until(lambda: seen == [2])
        node.center.publish("db", '{"a": 3}')  # the watcher and dispatcher still run
        await wait_until(lambda: seen == [2, 3])


async def test_configs_are_watched_lazily(node: Node) -> None:
    node.center.publish("a", '{"v": 1}')
    node.center.publish("b", "k=v\n", fmt="properties")
    async with client_for(node) as client:
        assert node.center.requests == []
        await client.config("a")
        await wait_until(lambda: node.center.requests)
        assert [h.config.name for h in node.center.requests[-1].configs] == ["a"]
        b = await client.config("b")
        assert b.get_string("k") == "v"
        await wait_until(lambda: len(node.center.requests[-1].configs) == 2)
        held = {h.config.name: h.sha256 for h in node.center.requests[-1].configs}
        assert held == {"a": sha('{"v": 1}'), "b": sha("k=v\n")}


async def test_disk_cache_follows_every_change(node: Node, tmp_path: Path) -> None:
    node.center.publish("db", '{"a": 1}')
    async with client_for(node, cache_dir=tmp_path) as client:
        await client.config("db")
        path = tmp_path / TENANT / APP / ENV / "db.json"
        assert json.loads(path.read_text())["content"] == '{"a": 1}'
        await wait_until(lambda: node.center.streams)
        node.center.publish("db", '{"a": 2}')
        await wait_until(lambda: json.loads(path.read_text())["content"] == '{"a": 2}')
        node.center.delete("db")
        await wait_until(lambda: not path.exists())


async def test_starts_from_disk_cache_when_no_node_answers(node: Node, tmp_path: Path) -> None:
    node.center.publish("db", 'pool:\n  size: 12\nname: "x"\n', fmt="yaml")
    async with client_for(node, cache_dir=tmp_path) as client:
        assert (await client.config("db")).get_int("pool.size") == 12

    down = AsyncConfluxClient(
        [f"http://127.0.0.1:{closed_port()}", f"http://127.0.0.1:{closed_port()}"],
        TENANT,
        APP,
        ENV,
        cache_dir=tmp_path,
        backoff=FAST,
    )
    async with down:
        db = await down.config("db")
        assert db.get_int("pool.size") == 12
        assert db.get_string("name") == "x"
        assert db.version == 1
        missing = await down.config("other")
        assert missing.get_int("x", default=4) == 4

    async with AsyncConfluxClient([f"http://127.0.0.1:{closed_port()}"], TENANT, APP, ENV) as bare:
        with pytest.raises(ConfigKeyError):
            (await bare.config("db")).get_int("pool.size")


async def test_config_before_start_is_loaded_by_start(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    client = client_for(node)
    view = await client.config("db")
    assert not view.available
    await client.start()
    try:
        assert view.get_int("a") == 1
    finally:
        await client.close()
    with pytest.raises(RuntimeError):
        await client.config("db")


async def test_sync_client_on_its_own_thread(node: Node, tmp_path: Path) -> None:
    node.center.publish("db", "size=4\nflag=on\n", fmt="properties")
    threads: list[str] = []
    events: list[ChangeEvent] = []
    removed: list[ChangeEvent] = []

    def listener(event: ChangeEvent) -> None:
        threads.append(threading.current_thread().name)
        events.append(event)
        raise ValueError("ignored")

    def run() -> None:
        with ConfluxClient(
            [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], cache_dir=tmp_path
        ) as client:
            client.on_change(listener)
            client.on_change(removed.append)
            client.remove_listener(removed.append)
            db = client.config("db")
            assert db.get_int("size") == 4 and db.get_bool("flag") is True
            started.set()
            assert changed.wait(10)
            client.close()  # idempotent with __exit__
        with pytest.raises(RuntimeError, match="closed"):
            client.config("db")
        assert db.get_int("size") == 5  # views keep the last values

    started, changed = threading.Event(), threading.Event()
    worker = asyncio.create_task(asyncio.to_thread(run))
    await wait_until(lambda: started.is_set() and node.center.streams)
    node.center.publish("db", "size=5\nflag=on\n", fmt="properties")
    await wait_until(lambda: events)
    changed.set()
    await worker
    assert events[0].changed_keys == {"size"}
    assert removed == []
    assert threads[0].startswith("conflux-callback")
    assert not [t for t in threading.enumerate() if t.name == "conflux-client"]
