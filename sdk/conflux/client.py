"""`ConfluxClient`: the synchronous SDK, a facade over the asyncio core on its own thread.

Why a private loop thread: a threaded or plain script application should not have to
run asyncio to get live config, and the watcher and poller must keep running between
its calls. So the client starts one daemon thread with its own event loop, runs
`AsyncConfluxClient` there, and turns each call into a blocking wait on that loop.

Reads (`view.get_int(...)`) never touch the loop: they read an immutable snapshot from
the thread-safe in-memory cache, so they are cheap from any thread. Change listeners run
one at a time, in order, on one dedicated callback thread, so a slow listener delays
other listeners but never the watch stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Self, TypeVar

from conflux.aio import AsyncConfluxClient
from conflux.snapshot import ChangeEvent, ConfigView

_T = TypeVar("_T")
SyncListener = Callable[[ChangeEvent], object]


class _OnCallbackThread:
    """Runs a sync listener on the callback thread; the core awaits it and logs errors."""

    def __init__(
        self, callback: SyncListener, loop: asyncio.AbstractEventLoop, pool: ThreadPoolExecutor
    ) -> None:
        self.callback, self._loop, self._pool = callback, loop, pool

    async def __call__(self, event: ChangeEvent) -> None:
        await self._loop.run_in_executor(self._pool, self.callback, event)

    def __repr__(self) -> str:
        return repr(self.callback)


async def _drain() -> None:
    """Cancel and await what is left on the loop, so nothing is destroyed while pending."""
    await asyncio.sleep(0)
    current = asyncio.current_task()
    tasks = [t for t in asyncio.all_tasks() if t is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


class ConfluxClient:
    """A live, cached view of the configs of one tenant/app/env, for blocking code.

    ```python
    with ConfluxClient(["http://127.0.0.1:7081"], "acme", "shop", "prod",
                       cache_dir="/var/cache/conflux") as client:
        db = client.config("db")
        pool = db.get_int("pool.size", default=10)
        client.on_change(lambda e: print(e.name, sorted(e.changed_keys)), name="db")
    ```

    `endpoints` are HTTP base URLs; the gRPC watch targets default to the same hosts
    with the port + 10, unless `grpc_endpoints` are given. `poll_interval=None`
    disables the poller. `ca_file`, `cert_file` and `key_file` configure TLS (see
    `AsyncConfluxClient`). Every call is thread-safe.
    """

    def __init__(
        self,
        endpoints: Sequence[str] | str,
        tenant: str,
        app: str,
        env: str,
        *,
        token: str | None = None,
        client_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        poll_interval: float | None = 30.0,
        grpc_endpoints: Sequence[str] | None = None,
        timeout: float = 5.0,
        ca_file: str | os.PathLike[str] | None = None,
        cert_file: str | os.PathLike[str] | None = None,
        key_file: str | os.PathLike[str] | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="conflux-client", daemon=True
        )
        self._thread.start()
        self._callbacks = ThreadPoolExecutor(1, thread_name_prefix="conflux-callback")
        self._close_lock = threading.Lock()
        self._closed = False

        async def build() -> AsyncConfluxClient:  # asyncio primitives belong to the loop
            return AsyncConfluxClient(
                endpoints,
                tenant,
                app,
                env,
                token=token,
                client_id=client_id,
                labels=labels,
                cache_dir=cache_dir,
                poll_interval=poll_interval,
                grpc_endpoints=grpc_endpoints,
                timeout=timeout,
                ca_file=ca_file,
                cert_file=cert_file,
                key_file=key_file,
            )

        try:
            self._core = self._run(build())
        except BaseException:
            self._stop_loop()
            raise

    def _run(self, coro: Coroutine[Any, Any, _T]) -> _T:
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("ConfluxClient cannot be called from its own event-loop thread")
        if self._loop.is_closed():
            coro.close()
            raise RuntimeError("client is closed")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def start(self) -> None:
        """Load the configs asked for so far; start watching and polling. Never raises for
        an unreachable center: views then serve the disk cache or their defaults."""
        self._run(self._core.start())

    def close(self) -> None:
        """Stop the watcher, the poller and the loop thread. Idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._run(self._core.close())
        self._stop_loop()
        on_callback_thread = threading.current_thread().name.startswith("conflux-callback")
        self._callbacks.shutdown(wait=not on_callback_thread)

    def _stop_loop(self) -> None:
        with contextlib.suppress(Exception):  # let gRPC's own tasks finish, as asyncio.run does
            asyncio.run_coroutine_threadsafe(_drain(), self._loop).result(timeout=5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def config(self, name: str) -> ConfigView:
        """A live view of `name`; on a started client it is loaded before this returns."""
        return self._run(self._core.config(name))

    def on_change(self, callback: SyncListener, name: str | None = None) -> SyncListener:
        """Call `callback(event)` on the callback thread after each change (see the class)."""
        self._core.on_change(_OnCallbackThread(callback, self._loop, self._callbacks), name)
        return callback

    def remove_listener(self, callback: SyncListener) -> None:
        self._core.remove_listener(callback)

    @property
    def connected_to(self) -> str | None:
        """The gRPC target whose watch stream last delivered, while it stays open."""
        return self._core.connected_to
