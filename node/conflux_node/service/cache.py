"""Caches for the read path, safe against the apply thread.

Versions and releases never change once written, so an LRU keyed by (config,
incarnation, number) is always right. Config records do change; `MetaCache` holds the
decoded record per config and is invalidated by applied events. The apply thread
writes the store *before* it invalidates, and a reader only fills the cache when no
invalidation happened while it read, so the cache never keeps a stale record.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from conflux_node.model.apply import Event
from conflux_node.model.entities import ConfigMeta
from conflux_node.model.names import Coords

V = TypeVar("V")


class Lru(Generic[V]):
    """A bounded LRU; used from the event loop thread only."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def get(self, key: Hashable) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: Hashable, value: V) -> None:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()


class MetaCache:
    def __init__(self, size: int = 65536) -> None:
        self._size = size
        self._items: dict[Coords, ConfigMeta] = {}
        self._generation = 0

    def get(self, coords: Coords, load: Callable[[Coords], ConfigMeta | None]) -> ConfigMeta | None:
        meta = self._items.get(coords)
        if meta is not None:
            return meta
        generation = self._generation
        meta = load(coords)
        if meta is not None and generation == self._generation:
            if len(self._items) >= self._size:
                self._items.clear()
            self._items[coords] = meta
        return meta

    def on_events(self, events: Sequence[Event]) -> None:
        """Called on the apply thread after the store holds the new state."""
        self._generation += 1
        for event in events:
            self._items.pop(event.coords, None)

    def clear(self, *_: Any) -> None:
        self._generation += 1
        self._items.clear()
