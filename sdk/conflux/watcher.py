"""The push path: one gRPC `Watch` stream that stays open, reconnects, and fails over.

Why: a change must reach the application within one round trip, so the client keeps a
server-streaming call open to one node (`conflux.v1.ConfluxWatch/Watch`). Every
(re)connection sends the sha256 the client holds of each watched config, and the node
answers at once for any that differ, so nothing is missed across a reconnect, a
failover or a `resync` (the node dropped a watcher that fell behind).

When the stream fails the watcher moves to the next target, round robin, after a
jittered exponential backoff ("full jitter": a uniform draw between 0 and
min(cap, base * 2**attempt)), so a fleet of clients does not reconnect in lockstep after
an outage. The backoff resets once a stream proves healthy. `restart()` reopens the
stream on the same node at once, with a fresh request: the client calls it when the set
of watched configs changes.

Each attempt uses a fresh channel: gRPC's own channel-level reconnect backoff (up to
two minutes) would otherwise hide a node that is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import grpc
import grpc.aio

from conflux.v1 import watch_pb2, watch_pb2_grpc

log = logging.getLogger("conflux.watcher")

# Keepalive pings find a dead connection that TCP would not report for hours. Five
# minutes is the gRPC server default minimum ping interval; six stays clear of it, so
# a node that does not loosen it still accepts them. The poller covers the gap.
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 360_000),
    ("grpc.keepalive_timeout_ms", 20_000),
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: uniform(0, min(cap, base * 2**attempt))."""

    base: float = 0.1
    cap: float = 5.0

    def delay(self, attempt: int) -> float:
        return random.uniform(0.0, min(self.cap, self.base * 2 ** min(attempt, 30)))  # noqa: S311


class _Outcome(enum.Enum):
    RESTART = "restart"  # asked to reopen with a new request: same node, no delay
    RESYNC = "resync"  # the node dropped us: reconnect to it, no delay
    FAILED = "failed"  # error or end of stream: next node, after a backoff


class Watcher:
    """Keeps one watch stream open while running; hands each event to `on_event`.

    `request()` builds the request from what the client holds at that moment; it
    returns None while nothing is watched, and the watcher then waits for `restart()`.
    """

    def __init__(
        self,
        targets: Sequence[str],
        request: Callable[[], watch_pb2.WatchRequest | None],
        on_event: Callable[[watch_pb2.WatchEvent], Awaitable[None]],
        *,
        metadata: Sequence[tuple[str, str]] = (),
        backoff: Backoff | None = None,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        """With `credentials` the channels are TLS (`secure_channel`), else plaintext."""
        if not targets:
            raise ValueError("at least one gRPC target is needed")
        self.targets = list(targets)
        self._request, self._on_event = request, on_event
        self._metadata = tuple(metadata)
        self._credentials = credentials
        self._backoff = backoff or Backoff()
        self._index = 0
        self._task: asyncio.Task[None] | None = None
        self._call: grpc.aio.UnaryStreamCall | None = None
        self._wake = asyncio.Event()
        self._restart = False
        self.connected_to: str | None = None  # the target whose stream last delivered

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="conflux-watch")

    def restart(self) -> None:
        """Reopen the stream with a fresh request (e.g. the watched set changed)."""
        self._restart = True
        self._wake.set()
        if self._call is not None:
            self._call.cancel()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        attempt, failing = 0, False
        while True:
            self._restart = False
            request = self._request()
            if request is None:
                self._wake.clear()
                if not self._restart:
                    await self._wake.wait()
                continue
            target = self.targets[self._index]
            started = time.monotonic()
            outcome, healthy = await self._stream(target, request, failing)
            if outcome is not _Outcome.FAILED:
                attempt, failing = 0, False
                continue
            if healthy or time.monotonic() - started > self._backoff.cap:
                attempt = 0
            failing = True
            self._index = (self._index + 1) % len(self.targets)
            await asyncio.sleep(self._backoff.delay(attempt))
            attempt += 1

    async def _stream(
        self, target: str, request: watch_pb2.WatchRequest, failing: bool
    ) -> tuple[_Outcome, bool]:
        """Run one call to `target`; return how it ended and whether it delivered."""
        healthy = False
        async with self._channel(target) as channel:
            stub = watch_pb2_grpc.ConfluxWatchStub(channel)
            call = stub.Watch(request, metadata=self._metadata)
            self._call = call
            try:
                if self._restart:  # asked while the channel was being opened
                    call.cancel()
                async for event in call:
                    if not healthy and failing:
                        log.info("watch stream to %s is up again", target)
                    healthy, self.connected_to = True, target
                    if event.updates:
                        await self._on_event(event)
                    if event.resync:
                        log.info("watch stream to %s asked to resync; reconnecting", target)
                        return _Outcome.RESYNC, healthy
                log.info("watch stream to %s ended; failing over", target)
                return _Outcome.FAILED, healthy
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if self._restart and not (task is not None and task.cancelling()):
                    return _Outcome.RESTART, healthy
                raise
            except grpc.aio.AioRpcError as error:
                if error.code() == grpc.StatusCode.CANCELLED and self._restart:
                    return _Outcome.RESTART, healthy
                self._log_failure(target, error, failing)
                return _Outcome.FAILED, healthy
            finally:
                self._call = None
                if self.connected_to == target:
                    self.connected_to = None

    def _channel(self, target: str) -> grpc.aio.Channel:
        if self._credentials is None:
            return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)
        return grpc.aio.secure_channel(target, self._credentials, options=CHANNEL_OPTIONS)

    @staticmethod
    def _log_failure(target: str, error: grpc.aio.AioRpcError, failing: bool) -> None:
        """Say it once per outage: later failures of the same outage go to debug."""
        code = error.code()
        refused = code in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.UNAUTHENTICATED,
            grpc.StatusCode.PERMISSION_DENIED,
        )
        level = logging.DEBUG if failing else logging.ERROR if refused else logging.WARNING
        log.log(level, "watch stream to %s failed: %s %s", target, code.name, error.details())
