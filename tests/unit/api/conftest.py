"""An in-process node: the real aiohttp app over MemoryStore and LocalProposer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from conflux_node.api.server import build_app
from conflux_node.consensus.bridge import LocalProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.consensus.raft import RaftStatus
from conflux_node.service.cluster import ClusterInfo, MemberInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites
from conflux_node.storage.memory import MemoryStore

LIMIT = 2000
C = "/api/v1/configs/acme/shop/prod/db"


class FixedStatus:
    def __init__(self, leader: str | None = "127.0.0.1:1") -> None:
        self.leader = leader

    def status(self) -> RaftStatus:
        return RaftStatus(
            leader=self.leader,
            is_leader=True,
            term=1,
            commit_index=5,
            last_applied=5,
            leader_commit_index=5,
            connected=frozenset(),
            match_index={},
        )


def make_app(store: Any = None, proposer: Any = None, status: Any = None) -> Any:
    store = store if store is not None else MemoryStore()
    reads = ConfigReads(store)
    machine = StateMachine(store, reads.on_events)
    cluster = ClusterInfo(
        "n1", (MemberInfo("n1", "127.0.0.1:1", "http://127.0.0.1:9"),), status or FixedStatus()
    )
    proposer = proposer or LocalProposer(machine)
    writes = ConfigWrites(reads, proposer, max_content_bytes=LIMIT)
    hub = WatchHub(reads, asyncio.get_running_loop())
    machine.subscribe(hub.on_events)
    return build_app(
        writes,
        reads,
        cluster,
        digest=lambda: "digest",
        max_content_bytes=LIMIT,
        hub=hub,
        identity=IdentityAdmin(store, proposer),
        sessions=Sessions(store, token_ttl=3600),
    )


@pytest.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(make_app())) as test_client:
        yield test_client


async def setup_config(
    client: TestClient[Any, Any], versions: list[str], fmt: str = "json"
) -> None:
    response = await client.put(C, json={"format": fmt})
    assert response.status == 201
    for content in versions:
        response = await client.post(C + "/versions", json={"content": content})
        assert response.status == 201, await response.text()
