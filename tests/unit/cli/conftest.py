"""A real in-process node (aiohttp over MemoryStore) on a real port, for CLI tests.

The server runs on its own event loop in a background thread, so the CLI under test
talks plain HTTP to it exactly as it would to a node.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from click.testing import CliRunner, Result

from conflux.cli.main import cli
from conflux_node.storage.memory import MemoryStore
from tests.unit.api.conftest import TOKEN, make_app, seeded_store


@dataclass
class Node:
    url: str
    loop: asyncio.AbstractEventLoop
    authorizations: list[str | None] = field(default_factory=list)
    token: str | None = None  # an admin token, when the store is bootstrapped


RECORDER = web.AppKey("recorder", list)


@web.middleware
async def _record_auth(request: web.Request, handler: Any) -> web.StreamResponse:
    request.app[RECORDER].append(request.headers.get("Authorization"))
    response: web.StreamResponse = await handler(request)
    return response


StoreFactory = Callable[[], Awaitable[MemoryStore]]


async def _seeded_store() -> MemoryStore:
    return seeded_store()


@contextmanager
def serve_node(make_store: StoreFactory = _seeded_store) -> Iterator[Node]:
    """Serve the real app over the store `make_store` prepares, on its own loop thread."""
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        app = make_app(store=await make_store())
        recorder: list[str | None] = []
        app[RECORDER] = recorder
        app.middlewares.insert(0, _record_auth)  # before the guard can refuse
        server = TestServer(app, host="127.0.0.1")
        await server.start_server()
        holder["server"], holder["recorder"] = server, recorder
        holder["token"] = app.get(TOKEN)
        holder["url"] = str(server.make_url("")).rstrip("/")

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(30), "in-process node did not start"
    try:
        yield Node(holder["url"], loop, holder["recorder"], holder["token"])
    finally:
        asyncio.run_coroutine_threadsafe(holder["server"].close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def node() -> Iterator[Node]:
    with serve_node() as served:
        yield served


@dataclass
class Cli:
    """Runs `conflux` in-process against one node, isolated from the user's settings."""

    runner: CliRunner
    node_url: str
    home: Path
    token: str | None = None  # CONFLUX_TOKEN unless a test sets its own

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str | None]:
        base: dict[str, str | None] = {
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": None,
            "CONFLUX_CONFIG_FILE": None,
            "CONFLUX_ENDPOINTS": self.node_url,
            "CONFLUX_TENANT": "acme",
            "CONFLUX_APP": "shop",
            "CONFLUX_ENV": "prod",
            "CONFLUX_TOKEN": self.token,
            "CONFLUX_DEBUG": None,
            "COLUMNS": "200",
        }
        base.update(extra or {})
        return base

    def __call__(
        self, *args: str, input: str | None = None, env: dict[str, str] | None = None
    ) -> Result:
        return self.runner.invoke(cli, list(args), input=input, env=self.env(env))

    def ok(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        result = self(*args, input=input, env=env)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result


@pytest.fixture
def run(node: Node, tmp_path: Path) -> Cli:
    return Cli(CliRunner(), node.url, tmp_path, node.token)
