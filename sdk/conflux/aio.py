"""`AsyncConfluxClient`: the asyncio core of the SDK, and where every change is applied.

Why one core: the watcher (push), the poller (pull) and the initial load all end in
`_apply`, which keeps the in-memory cache, the disk cache and the change listeners in
step. It runs under one lock, drops content the client already holds (same sha256),
and writes the disk cache before listeners hear of the change. The sync
`ConfluxClient` runs this same core on a private event-loop thread.

Configs are watched lazily: `config(name)` on a started client loads the config (HTTP
fetch, or the disk cache when no node answers) and reopens the watch stream with the
new set. A config that cannot be had anywhere still gets a view; its getters return
their defaults until the center serves it, and then listeners hear of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from conflux.cache import DiskCache, MemoryCache
from conflux.poller import NOT_MODIFIED, HttpFetcher, Poller, Unreachable
from conflux.rest import ApiError
from conflux.snapshot import ChangeEvent, ConfigView, Snapshot, changed_keys
from conflux.tls import StrPath, TlsFiles
from conflux.v1 import watch_pb2
from conflux.watcher import Backoff, Watcher

log = logging.getLogger("conflux.client")
GRPC_PORT_OFFSET = 10
_NAME = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
Listener = Callable[[ChangeEvent], object]  # may return an awaitable, which is awaited


def grpc_target(endpoint: str) -> str:
    """The gRPC `host:port` of an HTTP endpoint: same host, port + 10 (7081 -> 7091)."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if not parts.hostname:
        raise ValueError(f"endpoint {endpoint!r} has no host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port + GRPC_PORT_OFFSET}"


def check_name(field: str, value: str) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _NAME.fullmatch(value):
        raise ValueError(
            f"{field} must be a DNS-label-style name ([a-z0-9]([-a-z0-9_.]*[a-z0-9])?, "
            f"at most 63 characters): {value!r}"
        )
    return value


def _check_labels(labels: Mapping[str, str]) -> dict[str, str]:
    for key, value in labels.items():
        if not key or any(c in key for c in ",=") or "," in value:
            raise ValueError(f"label {key}={value} may not hold ',' (nor '=' in the key)")
    return dict(labels)


class AsyncConfluxClient:
    """A live, cached view of the configs of one tenant/app/env, for asyncio code.

    TLS: `https://` endpoints are verified against `ca_file` (else the system's store);
    `cert_file`/`key_file` are the client certificate for nodes that require one. The watch
    uses a TLS channel when `ca_file` or `cert_file` is given or an endpoint is https.
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
        backoff: Backoff | None = None,
        ca_file: StrPath | None = None,
        cert_file: StrPath | None = None,
        key_file: StrPath | None = None,
    ) -> None:
        self.endpoints = [endpoints] if isinstance(endpoints, str) else list(endpoints)
        if not self.endpoints:
            raise ValueError("at least one endpoint is needed")
        self.tenant, self.app, self.env = (
            check_name("tenant", tenant),
            check_name("app", app),
            check_name("env", env),
        )
        self.client_id, self.labels = client_id, _check_labels(labels or {})
        self.grpc_endpoints = list(grpc_endpoints or [grpc_target(e) for e in self.endpoints])
        tls = TlsFiles.of(ca_file, cert_file, key_file)  # a bad file fails here, by name
        self._memory = MemoryCache()
        self._disk = None if cache_dir is None else DiskCache(cache_dir, tenant, app, env)
        self._fetcher = HttpFetcher(
            self.endpoints,
            tenant,
            app,
            env,
            client_id=client_id,
            labels=self.labels,
            token=token,
            timeout=timeout,
            ca_file=tls.ca_file,
            cert_file=tls.cert_file,
            key_file=tls.key_file,
        )
        secure = tls.configured or any(e.startswith("https://") for e in self.endpoints)
        metadata = [("authorization", f"Bearer {token}")] if token else []
        self._watcher = Watcher(
            self.grpc_endpoints,
            self._watch_request,
            self._on_watch_event,
            metadata=metadata,
            backoff=backoff,
            credentials=tls.grpc_credentials() if secure else None,
        )
        self._poller = Poller(self._fetcher, self, poll_interval) if poll_interval else None
        self._views: dict[str, ConfigView] = {}
        self._loads: dict[str, asyncio.Task[None]] = {}
        self._listeners: list[tuple[Listener, str | None]] = []
        self._listeners_lock = threading.Lock()
        self._apply_lock = asyncio.Lock()
        self._events: asyncio.Queue[ChangeEvent] = asyncio.Queue()
        self._dispatcher: asyncio.Task[None] | None = None
        self._state = "new"

    # --- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Load the configs asked for so far, then start the watcher and the poller."""
        if self._state == "closed":
            raise RuntimeError("client is closed")
        if self._state == "started":
            return
        self._state = "started"
        loop = asyncio.get_running_loop()
        self._dispatcher = loop.create_task(self._dispatch(), name="conflux-dispatch")
        await asyncio.gather(*(self._ensure_loaded(name) for name in list(self._views)))
        self._watcher.start()
        if self._poller is not None:
            self._poller.start()

    async def close(self) -> None:
        """Stop watching and polling; views keep the last values they had."""
        if self._state == "closed":
            return
        self._state = "closed"
        await self._watcher.stop()
        if self._poller is not None:
            await self._poller.stop()
        tasks = [*self._loads.values(), *([self._dispatcher] if self._dispatcher else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def connected_to(self) -> str | None:
        """The gRPC target whose watch stream last delivered, while it stays open."""
        return self._watcher.connected_to

    # --- public API ---------------------------------------------------------------------

    async def config(self, name: str) -> ConfigView:
        """A live view of `name`; on a started client, loaded before this returns."""
        if self._state == "closed":
            raise RuntimeError("client is closed")
        view = self._views.get(name)
        if view is None:
            check_name("config name", name)
            view = self._views[name] = ConfigView(name, lambda: self._memory.get(name))
        if self._state == "started":
            await self._ensure_loaded(name)
        return view

    def on_change(self, callback: Listener, name: str | None = None) -> Listener:
        """Call `callback(event)` after each change of `name` (of any config if None).

        Listeners run one at a time, in the order changes were applied, on the event
        loop; a coroutine function is awaited. One that raises is logged and the others
        still run. The first load of a config is not a change. Returns `callback`.
        """
        with self._listeners_lock:
            self._listeners.append((callback, name))
        return callback

    def remove_listener(self, callback: Listener) -> None:
        """Stop calling `callback` (every registration; bound methods compare equal)."""
        with self._listeners_lock:
            self._listeners = [
                (cb, n)
                for cb, n in self._listeners
                if cb != callback and getattr(cb, "callback", None) != callback
            ]

    # --- loading and applying -----------------------------------------------------------

    async def _ensure_loaded(self, name: str) -> None:
        if name in self._memory:
            return
        task = self._loads.get(name)
        if task is None:
            task = self._loads[name] = asyncio.get_running_loop().create_task(self._load(name))
            task.add_done_callback(lambda _: self._loads.pop(name, None))
        await asyncio.shield(task)

    async def _load(self, name: str) -> None:
        try:
            result = await asyncio.to_thread(self._fetcher.fetch, name, "")
        except (Unreachable, ApiError) as exc:
            cached = None if self._disk is None else await asyncio.to_thread(self._disk.load, name)
            level = logging.ERROR if isinstance(exc, ApiError) else logging.WARNING
            source = "the disk cache" if cached is not None else "nothing"
            log.log(level, "config %r: fetch failed (%s); serving %s", name, exc, source)
            await self._apply(name, cached, persist=False, notify=False)
        else:
            snapshot = None if result is NOT_MODIFIED else result
            await self._apply(name, snapshot, notify=False)
        self._watcher.restart()

    async def _apply(
        self,
        name: str,
        snapshot: Snapshot | None,
        *,
        generation: int | None = None,
        persist: bool = True,
        notify: bool = True,
    ) -> bool:
        """Make `snapshot` current for `name` unless already held; True if it changed."""
        async with self._apply_lock:
            if generation is not None and self._memory.generation(name) != generation:
                return False  # something newer landed while this was in flight
            current = self._memory.get(name)
            same = (current is None) == (snapshot is None) and (
                current is None or snapshot is None or current.sha256 == snapshot.sha256
            )
            if same and name in self._memory:
                return False
            old = self._memory.put(name, snapshot)
            if persist and self._disk is not None:
                await self._persist(self._disk, name, snapshot)
            if notify:
                self._events.put_nowait(
                    ChangeEvent(name, old, snapshot, changed_keys(old, snapshot))
                )
            return True

    @staticmethod
    async def _persist(disk: DiskCache, name: str, snapshot: Snapshot | None) -> None:
        try:
            if snapshot is None:
                await asyncio.to_thread(disk.remove, name)
            else:
                await asyncio.to_thread(disk.save, snapshot)
        except OSError as exc:  # a full disk must not stop the client from serving
            log.warning("could not write the disk cache for %r: %s", name, exc)

    async def _dispatch(self) -> None:
        while True:
            event = await self._events.get()
            with self._listeners_lock:
                listeners = list(self._listeners)
            for callback, name in listeners:
                if name is not None and name != event.name:
                    continue
                try:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("change listener %r failed on %r", callback, event.name)

    # --- what the watcher and the poller call -------------------------------------------

    def _watch_request(self) -> watch_pb2.WatchRequest | None:
        held = self._memory.held()
        if not held:
            return None
        return watch_pb2.WatchRequest(
            configs=[
                watch_pb2.Held(
                    config=watch_pb2.ConfigRef(
                        tenant=self.tenant, app=self.app, env=self.env, name=name
                    ),
                    sha256=sha,
                )
                for name, sha in sorted(held.items())
            ],
            client_id=self.client_id or "",
            labels=self.labels,
        )

    async def _on_watch_event(self, event: watch_pb2.WatchEvent) -> None:
        for update in event.updates:
            ref = update.config
            if (ref.tenant, ref.app, ref.env) != (self.tenant, self.app, self.env):
                continue
            if ref.name not in self._memory:
                continue
            snapshot = None
            if not update.absent:
                snapshot = Snapshot(
                    name=ref.name,
                    version=update.version,
                    release_revision=update.release_revision,
                    sha256=update.sha256,
                    format=update.format,
                    content=update.content,
                    rule=update.rule or None,
                )
            await self._apply(ref.name, snapshot)

    def watched(self) -> dict[str, tuple[str, int]]:
        held = self._memory.held()
        return {name: (sha, self._memory.generation(name)) for name, sha in held.items()}

    async def offer(self, name: str, snapshot: Snapshot | None, generation: int) -> bool:
        changed = await self._apply(name, snapshot, generation=generation)
        if changed:  # the stream missed this: it may be stuck, so reopen it
            log.info("poll found a change of %r the watch stream had not delivered", name)
            self._watcher.restart()
        return changed
