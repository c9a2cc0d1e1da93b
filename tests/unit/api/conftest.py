"""An in-process node: the real aiohttp app over MemoryStore and LocalProposer.

`make_app()` seeds its store like a bootstrapped cluster (the `admin` user, the token
key) plus the tenant `acme`, and `authed(app)` is a test client that sends an admin
token with every request; tests about refusals pass their own `Authorization`.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from conflux_node.api.server import build_app
from conflux_node.auth.passwords import hash_password
from conflux_node.auth.tokens import issue_token, new_jti
from conflux_node.consensus.bridge import LocalProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.consensus.raft import RaftStatus
from conflux_node.model.commands import Bootstrap, CreateTenant, encode
from conflux_node.model.identity import read_jwt_key
from conflux_node.service.access import AccessControl
from conflux_node.service.cluster import ClusterInfo, MemberInfo
from conflux_node.service.identity import IdentityAdmin
from conflux_node.service.reads import ConfigReads
from conflux_node.service.sessions import Sessions
from conflux_node.service.watch import WatchHub
from conflux_node.service.writes import ConfigWrites
from conflux_node.storage.memory import MemoryStore

LIMIT = 2000
C = "/api/v1/configs/acme/shop/prod/db"
ADMIN_PASSWORD = "Adm1n-Pa55-for-tests"
JWT_KEY = "unit-test-jwt-key-0123456789abcdef0123456789abcdef"
TOKEN = web.AppKey("test_admin_token", str)
STORE = web.AppKey("test_store", MemoryStore)
Client = TestClient[Any, Any]


@functools.cache
def admin_hash() -> str:
    return hash_password(ADMIN_PASSWORD)


def seeded_store(tenants: tuple[str, ...] = ("acme",)) -> MemoryStore:
    """A store as a bootstrapped cluster leaves it, with `tenants` created."""
    store = MemoryStore()
    machine = StateMachine(store)
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    commands = [Bootstrap("admin", admin_hash(), JWT_KEY, "system", now)]
    commands += [CreateTenant(name, "user:admin", now) for name in tenants]
    for index, command in enumerate(commands, start=1):
        machine.apply_entry(index, encode(command))
    return store


def token_for(store: Any, subject: str = "user:admin", ttl: float = 3600) -> str:
    """A token signed with the store's key, as login would issue it."""
    key = read_jwt_key(store)
    assert key is not None, "the store is not bootstrapped"
    token, _ = issue_token(
        key.encode(), subject, datetime.now(UTC), timedelta(seconds=ttl), jti=new_jti()
    )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def authed(app: web.Application) -> Client:
    """A test client sending the app's admin token (when it has one) by default."""
    token = app.get(TOKEN)
    return TestClient(TestServer(app), headers=bearer(token) if token else None)


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


def make_app(
    store: Any = None, proposer: Any = None, status: Any = None, *, metrics_open: bool = True
) -> Any:
    """The app over `store` (default: `seeded_store()`); `app[TOKEN]` is an admin token."""
    store = store if store is not None else seeded_store()
    reads = ConfigReads(store)
    machine = StateMachine(store, reads.on_events)
    cluster = ClusterInfo(
        "n1", (MemberInfo("n1", "127.0.0.1:1", "http://127.0.0.1:9"),), status or FixedStatus()
    )
    proposer = proposer or LocalProposer(machine)
    writes = ConfigWrites(reads, proposer, max_content_bytes=LIMIT)
    hub = WatchHub(reads, asyncio.get_running_loop())
    machine.subscribe(hub.on_events)
    sessions = Sessions(store, token_ttl=3600)
    app = build_app(
        writes,
        reads,
        cluster,
        digest=lambda: "digest",
        max_content_bytes=LIMIT,
        hub=hub,
        identity=IdentityAdmin(store, proposer),
        sessions=sessions,
        access=AccessControl(store, sessions, proposer),
        metrics_open=metrics_open,
    )
    if isinstance(store, MemoryStore) and read_jwt_key(store) is not None:
        app[TOKEN], app[STORE] = token_for(store), store
    return app


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    async with authed(make_app()) as test_client:
        yield test_client


async def setup_config(client: Client, versions: list[str], fmt: str = "json") -> None:
    response = await client.put(C, json={"format": fmt})
    assert response.status == 201
    for content in versions:
        response = await client.post(C + "/versions", json={"content": content})
        assert response.status == 201, await response.text()
