"""The watch hub: applied events in, per-watcher answers out.

Every applied event names the config it touched. The hub re-evaluates what each
watcher of that config is served (labels, IP, sticky percentage included) and tells
only the watchers whose served content changed, so a canary rule change reaches only
the matching clients. It is fed by the state machine, never by polling storage.

Events arrive on pysyncobj's thread and are handed to the event loop; evaluation and
delivery happen there, so the apply path never waits for a watcher. Each watcher has a
bounded queue: a watcher that falls `queue_size` events behind is dropped and told to
resync (it reconnects sending what it holds, and misses nothing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from conflux_node.model.apply import Event
from conflux_node.model.entities import ClientIdentity
from conflux_node.model.errors import ConfigNotFound, ReleaseNotFound
from conflux_node.model.names import Coords
from conflux_node.service.reads import ConfigReads, Served

DEFAULT_QUEUE = 64


@dataclass(frozen=True, slots=True)
class Update:
    """What one watcher is now served for one config; `served` None means nothing."""

    coords: Coords
    served: Served | None

    @property
    def sha256(self) -> str:
        return self.served.sha256 if self.served else ""


@dataclass(eq=False)
class Watcher:
    client: ClientIdentity
    held: dict[Coords, str]
    queue: asyncio.Queue[list[Update]]
    dropped: bool = False
    initial: list[Update] = field(default_factory=list)

    def offer(self, updates: list[Update]) -> None:
        try:
            self.queue.put_nowait(updates)
        except asyncio.QueueFull:
            self.dropped = True

    async def next(self) -> list[Update] | None:
        """The next batch of updates, or None once dropped (the client must resync)."""
        if self.dropped:
            return None
        batch = await self.queue.get()
        return None if self.dropped else batch


class WatchHub:
    def __init__(
        self, reads: ConfigReads, loop: asyncio.AbstractEventLoop, queue_size: int = DEFAULT_QUEUE
    ) -> None:
        self._reads = reads
        self._loop = loop
        self._queue_size = queue_size
        self._by_config: dict[Coords, set[Watcher]] = {}
        self.dropped_total = 0

    @property
    def watcher_count(self) -> int:
        return len({w for ws in self._by_config.values() for w in ws})

    def watch(self, client: ClientIdentity, held: Mapping[Coords, str]) -> Watcher:
        """Register a watcher; `watcher.initial` holds what already differs from `held`."""
        watcher = Watcher(client, dict(held), asyncio.Queue(self._queue_size))
        for coords in held:
            self._by_config.setdefault(coords, set()).add(watcher)
            update = self.evaluate(coords, client)
            if update.sha256 != watcher.held[coords]:
                watcher.held[coords] = update.sha256
                watcher.initial.append(update)
        return watcher

    def unwatch(self, watcher: Watcher) -> None:
        for coords in watcher.held:
            watchers = self._by_config.get(coords)
            if watchers is not None:
                watchers.discard(watcher)
                if not watchers:
                    del self._by_config[coords]

    def evaluate(self, coords: Coords, client: ClientIdentity) -> Update:
        try:
            return Update(coords, self._reads.fetch(coords, client))
        except (ConfigNotFound, ReleaseNotFound):
            return Update(coords, None)

    # --- fed by the state machine (pysyncobj's thread) ------------------------------

    def on_events(self, events: Sequence[Event]) -> None:
        touched = {event.coords for event in events}
        self._loop.call_soon_threadsafe(self._dispatch, touched)

    def on_restore(self) -> None:
        self._loop.call_soon_threadsafe(lambda: self._dispatch(list(self._by_config)))

    def _shared_update(self, coords: Coords) -> Update | None:
        """The update every client gets, when it does not depend on the client: the
        config is gone or unreleased, or its release has no rules. Else None."""
        try:
            if self._reads.release(coords).spec.rules:
                return None
        except (ConfigNotFound, ReleaseNotFound):
            return Update(coords, None)
        return self.evaluate(coords, ClientIdentity())

    def _dispatch(self, touched: Iterable[Coords]) -> None:
        for coords in touched:
            watchers = list(self._by_config.get(coords, ()))
            shared = self._shared_update(coords) if watchers else None
            shared_batch = [shared] if shared else None  # one object: encoded once per edge
            for watcher in watchers:
                if watcher.dropped:
                    continue
                update = shared or self.evaluate(coords, watcher.client)
                if update.sha256 != watcher.held.get(coords):
                    watcher.held[coords] = update.sha256
                    watcher.offer(shared_batch or [update])
                    if watcher.dropped:
                        self.dropped_total += 1
