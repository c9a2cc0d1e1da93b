"""MetaCache: never keeps a record an applied event made stale."""

from __future__ import annotations

from conflux_node.model.apply import Event
from conflux_node.model.entities import ConfigMeta, ConfigSpec
from conflux_node.model.names import Coords
from conflux_node.service.cache import Lru, MetaCache

A = Coords("t", "a", "e", "one")


def meta(version: int) -> ConfigMeta:
    return ConfigMeta(A, ConfigSpec("json"), "", "now", "now", latest_version=version)


def test_hits_until_an_event_invalidates() -> None:
    cache = MetaCache()
    loads: list[int] = []
    current = [meta(1)]

    def load(coords: Coords) -> ConfigMeta:
        loads.append(1)
        return current[0]

    assert cache.get(A, load) == meta(1)
    assert cache.get(A, load) == meta(1)
    assert len(loads) == 1
    current[0] = meta(2)
    cache.on_events([Event("version_created", A)])
    assert cache.get(A, load) == meta(2)


def test_a_load_racing_an_invalidation_is_not_cached() -> None:
    cache = MetaCache()
    current = [meta(1)]

    def load_during_apply(coords: Coords) -> ConfigMeta:
        seen = current[0]
        current[0] = meta(2)  # the apply thread writes the store...
        cache.on_events([Event("version_created", A)])  # ...then invalidates
        return seen

    assert cache.get(A, load_during_apply) == meta(1)
    assert cache.get(A, lambda c: current[0]) == meta(2)


def test_missing_configs_are_not_cached_and_clear_drops_all() -> None:
    cache = MetaCache()
    assert cache.get(A, lambda c: None) is None
    assert cache.get(A, lambda c: meta(3)) == meta(3)
    cache.clear()
    assert cache.get(A, lambda c: meta(4)) == meta(4)


def test_lru_evicts_the_least_recently_used() -> None:
    lru: Lru[int] = Lru(2)
    lru.put("a", 1)
    lru.put("b", 2)
    assert lru.get("a") == 1
    lru.put("c", 3)
    assert lru.get("b") is None and lru.get("a") == 1 and lru.get("c") == 3
