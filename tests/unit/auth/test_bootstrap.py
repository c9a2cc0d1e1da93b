"""Bootstrap: the leader creates `admin` and the token key once; later calls are no-ops."""

from __future__ import annotations

import asyncio
import logging

import pytest

from conflux_node.auth.passwords import verify_password
from conflux_node.consensus.bridge import LocalProposer
from conflux_node.consensus.machine import StateMachine
from conflux_node.model.errors import NoLeader
from conflux_node.model.identity import list_users, read_jwt_key, read_user
from conflux_node.service.bootstrap import bootstrap_once, run_bootstrap
from conflux_node.storage.memory import MemoryStore


def fresh() -> tuple[MemoryStore, LocalProposer]:
    store = MemoryStore()
    return store, LocalProposer(StateMachine(store))


async def test_bootstrap_with_a_configured_password_is_idempotent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    store, proposer = fresh()
    assert await bootstrap_once(store, proposer, "configured-pass") is True
    admin = read_user(store, "admin")
    assert admin is not None and admin.system_admin
    assert verify_password(admin.password_hash, "configured-pass")
    key = read_jwt_key(store)
    assert key is not None and len(key) == 43
    assert await bootstrap_once(store, proposer, "other-pass") is False
    assert read_jwt_key(store) == key
    assert [u.username for u in list_users(store)] == ["admin"]
    assert "configured-pass" not in caplog.text
    assert "generated admin password" not in caplog.text


async def test_generated_password_is_logged_once_and_works(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    store, proposer = fresh()
    assert await bootstrap_once(store, proposer, None) is True
    lines = [r.getMessage() for r in caplog.records if "generated admin password" in r.getMessage()]
    assert len(lines) == 1
    password = lines[0].rsplit(": ", 1)[1]
    admin = read_user(store, "admin")
    assert admin is not None and verify_password(admin.password_hash, password)
    assert await bootstrap_once(store, proposer, None) is False
    again = [r for r in caplog.records if "generated admin password" in r.getMessage()]
    assert len(again) == 1


class FlakyProposer:
    """Refuses the first proposal (no leader yet), then applies."""

    def __init__(self, inner: LocalProposer) -> None:
        self.inner = inner
        self.calls = 0

    async def propose(self, payload: bytes) -> object:
        self.calls += 1
        if self.calls == 1:
            raise NoLeader("no leader yet")
        return await self.inner.propose(payload)


async def test_run_bootstrap_retries_until_done_and_followers_only_wait() -> None:
    store, proposer = fresh()
    flaky = FlakyProposer(proposer)
    await asyncio.wait_for(
        run_bootstrap(store, flaky, "pw-123456", lambda: True, retry=0.01),  # type: ignore[arg-type]
        timeout=10,
    )
    assert flaky.calls == 2
    assert read_user(store, "admin") is not None

    follower_store, follower_proposer = fresh()
    waiting = FlakyProposer(follower_proposer)
    task = asyncio.create_task(
        run_bootstrap(follower_store, waiting, None, lambda: False, retry=0.01)  # type: ignore[arg-type]
    )
    await asyncio.sleep(0.05)
    assert waiting.calls == 0 and not task.done()
    task.cancel()
