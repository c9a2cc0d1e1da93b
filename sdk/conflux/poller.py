"""The pull path: fetch what this client is served over HTTP, once or every `interval`.

Why: the gRPC stream pushes changes, but a stream can break silently (a half-open TCP
connection, a proxy that swallows it, a bug). The poller is the safety net: every
`poll_interval` it fetches each watched config in full from any node that answers and
offers the result through the same apply path as the watcher, which drops what the
client already holds (same sha256). The same fetcher does the initial load of a config.

HTTP goes through the standard library (`conflux.rest`) on a worker thread, so the SDK
needs no HTTP library of its own. The fetch sends `If-None-Match` with the sha256 held,
so an unchanged config costs a 304 and no body.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import quote

from conflux.rest import ApiError, RestClient
from conflux.snapshot import Snapshot
from conflux.tls import StrPath

log = logging.getLogger("conflux.poller")
ABSENT_CODES = frozenset({"config_not_found", "release_not_found"})


class _NotModified(enum.Enum):
    NOT_MODIFIED = enum.auto()


NOT_MODIFIED = _NotModified.NOT_MODIFIED
FetchResult = Snapshot | None | _NotModified


class Unreachable(ConnectionError):
    """No endpoint gave an answer (connection failures, timeouts, 5xx)."""


class HttpFetcher:
    """`GET /api/v1/fetch/...` against each endpoint in turn, starting with the last good one.

    A 404 `config_not_found`/`release_not_found` means nothing is served (None); other
    4xx answers are final and raised as `ApiError`; anything else moves to the next node.
    """

    def __init__(
        self,
        endpoints: Sequence[str],
        tenant: str,
        app: str,
        env: str,
        *,
        client_id: str | None = None,
        labels: Mapping[str, str] | None = None,
        token: str | None = None,
        timeout: float = 5.0,
        ca_file: StrPath | None = None,
        cert_file: StrPath | None = None,
        key_file: StrPath | None = None,
    ) -> None:
        if not endpoints:
            raise ValueError("at least one endpoint is needed")
        self._clients = [
            RestClient(
                endpoint, timeout=timeout, ca_file=ca_file, cert_file=cert_file, key_file=key_file
            )
            for endpoint in endpoints
        ]
        self._prefix = "/api/v1/fetch/" + "/".join(quote(p, safe="") for p in (tenant, app, env))
        self._query: dict[str, str] = {}
        if client_id:
            self._query["client_id"] = client_id
        if labels:
            self._query["labels"] = ",".join(f"{k}={v}" for k, v in sorted(labels.items()))
        self._headers = {"Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._preferred = 0

    def fetch(self, name: str, held_sha: str = "") -> FetchResult:
        """Blocking: what `name` is served now, None if nothing, NOT_MODIFIED if `held_sha`."""
        headers = dict(self._headers)
        if held_sha:
            headers["If-None-Match"] = f'"{held_sha}"'
        path = f"{self._prefix}/{quote(name, safe='')}"
        failures: list[str] = []
        count = len(self._clients)
        for step in range(count):
            index = (self._preferred + step) % count
            client = self._clients[index]
            try:
                status, body = client.request("GET", path, headers=headers, query=self._query)
            except ApiError as error:
                if error.status == 404 and error.code in ABSENT_CODES:
                    self._preferred = index
                    return None
                if error.status >= 500 or error.status in (404, 408, 429):
                    failures.append(f"{client.endpoints[0]}: {error}")
                    continue
                raise
            except (ConnectionError, ValueError) as error:  # ValueError: a body that is not JSON
                reason = str(error).removeprefix("no endpoint answered: ")
                failures.append(f"{client.endpoints[0]}: {reason}")
                continue
            if status == 304:
                self._preferred = index
                return NOT_MODIFIED
            snapshot = _snapshot(name, body)
            if snapshot is None:
                failures.append(f"{client.endpoints[0]}: malformed fetch answer")
                continue
            self._preferred = index
            return snapshot
        raise Unreachable("no endpoint answered: " + "; ".join(failures))


def _snapshot(name: str, body: object) -> Snapshot | None:
    if not isinstance(body, dict):
        return None
    try:
        return Snapshot(
            name=name,
            version=int(str(body["version"])),
            release_revision=int(str(body["release_revision"])),
            sha256=str(body["sha256"]),
            format=str(body["format"]),
            content=str(body["content"]),
            rule=None if body.get("rule") is None else str(body["rule"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


class PollTarget(Protocol):
    """What the poller feeds: the client's apply path."""

    def watched(self) -> dict[str, tuple[str, int]]:
        """Name -> (sha256 held or "", cache generation) for every watched config."""
        ...

    async def offer(self, name: str, snapshot: Snapshot | None, generation: int) -> bool:
        """Apply unless the cache changed since `generation`; True if it changed anything."""
        ...


class Poller:
    """Runs `poll_once` every `interval` seconds (with ±10 % jitter) until stopped."""

    def __init__(self, fetcher: HttpFetcher, target: PollTarget, interval: float) -> None:
        if interval <= 0:
            raise ValueError("poll interval must be positive")
        self._fetcher, self._target, self.interval = fetcher, target, interval
        self._task: asyncio.Task[None] | None = None
        self._failing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="conflux-poll")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval * random.uniform(0.9, 1.1))  # noqa: S311
            try:
                await self.poll_once()
            except Exception:  # the safety net must outlive anything a round meets
                log.exception("poll round failed")

    async def poll_once(self) -> int:
        """Fetch every watched config once; return how many changed the cache."""
        changed = 0
        for name, (sha, generation) in self._target.watched().items():
            try:
                result = await asyncio.to_thread(self._fetcher.fetch, name, sha)
            except Unreachable as exc:
                if not self._failing:
                    log.warning("poll: %s", exc)
                self._failing = True
                return changed  # every node is down: the next round tries again
            except ApiError as exc:
                log.error("poll of %r refused: %s", name, exc)
                continue
            if self._failing:
                log.info("poll: a node answers again")
                self._failing = False
            if result is NOT_MODIFIED:
                continue
            if await self._target.offer(name, result, generation):
                changed += 1
        return changed
