"""The watch stream: initial and later updates, failover, reconnect with held sha, resync."""

from __future__ import annotations

import random

from conflux import AsyncConfluxClient, Backoff, ChangeEvent

from .conftest import APP, ENV, TENANT, GrpcNode, Node, closed_port, sha, wait_until

FAST = Backoff(base=0.02, cap=0.2)


def test_backoff_is_full_jitter_doubling_to_a_cap() -> None:
    random.seed(7)
    backoff = Backoff(base=0.1, cap=5.0)
    for attempt in range(12):
        draws = [backoff.delay(attempt) for _ in range(200)]
        ceiling = min(5.0, 0.1 * 2**attempt)
        assert all(0.0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # spread over the whole range, not a constant
        assert min(draws) < ceiling * 0.2
    assert backoff.delay(10_000) <= 5.0


async def test_initial_update_then_later_one(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    events: list[ChangeEvent] = []
    client = AsyncConfluxClient(
        # HTTP down: the first content can only come from the stream's first event
        [f"http://127.0.0.1:{closed_port()}"],
        TENANT,
        APP,
        ENV,
        grpc_endpoints=[node.target],
        poll_interval=None,
        backoff=FAST,
    )
    async with client:
        client.on_change(events.append)
        db = await client.config("db")
        await wait_until(lambda: db.available and len(events) == 1)  # listeners run async
        assert node.center.requests[0].configs[0].sha256 == ""
        assert db.get_int("a") == 1 and len(events) == 1
        node.center.publish("db", '{"a": 2}')
        await wait_until(lambda: len(events) == 2)
        assert db.get_int("a") == 2 and events[1].changed_keys == {"a"}


async def test_fails_over_and_reconnects_sending_what_it_holds(node: Node) -> None:
    spare_port = closed_port()
    node.center.publish("db", '{"a": 1}')
    events: list[ChangeEvent] = []
    client = AsyncConfluxClient(
        [node.http],
        TENANT,
        APP,
        ENV,
        grpc_endpoints=[node.target, f"127.0.0.1:{spare_port}"],
        poll_interval=None,
        backoff=FAST,
    )
    second = GrpcNode(node.center)
    async with client:
        client.on_change(events.append)
        db = await client.config("db")
        await wait_until(lambda: node.center.streams)
        node.center.publish("db", '{"a": 2}')
        await wait_until(lambda: db.get_int("a") == 2)
        held_sha = sha('{"a": 2}')

        await node.grpc.stop()  # the node the client is connected to dies
        node.center.publish("db", '{"a": 3}')  # a change it cannot push
        before = len(node.center.requests)
        await second.start(spare_port)  # another node comes up on the other target
        try:
            await wait_until(lambda: db.get_int("a") == 3)
            reconnect = node.center.requests[before]
            assert [(h.config.name, h.sha256) for h in reconnect.configs] == [("db", held_sha)]
            assert client.connected_to == f"127.0.0.1:{spare_port}"
            await wait_until(lambda: len(events) == 2)  # listeners run after the apply
            assert [e.new.version for e in events if e.new] == [2, 3]
            node.center.publish("db", '{"a": 4}')  # and the new stream keeps delivering
            await wait_until(lambda: db.get_int("a") == 4)
        finally:
            await second.stop()


async def test_resync_reconnects_with_held_sha(node: Node) -> None:
    node.center.publish("db", '{"a": 1}')
    client = AsyncConfluxClient(
        [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], poll_interval=None
    )
    async with client:
        db = await client.config("db")
        await wait_until(lambda: node.center.streams)
        node.grpc.servicer.resync_next = True
        node.center.publish("db", '{"a": 2}')  # the server drops the watcher instead
        await wait_until(lambda: db.get_int("a") == 2)
        assert len(node.center.requests) == 2
        assert node.center.requests[1].configs[0].sha256 == sha('{"a": 1}')


async def test_token_is_sent_as_bearer_metadata_and_header(node: Node) -> None:
    node.center.publish("db", "{}")
    client = AsyncConfluxClient(
        [node.http], TENANT, APP, ENV, grpc_endpoints=[node.target], token="s3cret"
    )
    async with client:
        await client.config("db")
        await wait_until(lambda: node.center.metadata)
    assert node.center.metadata[0]["authorization"] == "Bearer s3cret"
    assert node.center.headers[0]["Authorization"] == "Bearer s3cret"
