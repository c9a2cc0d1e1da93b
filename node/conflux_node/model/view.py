"""The read side that `apply` and the service need from storage, as a Protocol.

Keeping it here lets the pure model depend on an interface instead of on RocksDB.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Protocol

from conflux_node.model import keys
from conflux_node.model.entities import ConfigMeta, Release, VersionRecord
from conflux_node.model.names import Coords


class StateView(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        """Yield (key, value) pairs under `prefix` in key order (or reverse order)."""
        ...


def _load(view: StateView, key: bytes) -> dict[str, Any] | None:
    raw = view.get(key)
    return None if raw is None else json.loads(raw)


def read_config(view: StateView, coords: Coords) -> ConfigMeta | None:
    data = _load(view, keys.config_key(coords))
    return None if data is None else ConfigMeta.from_json(data)


def read_version(view: StateView, coords: Coords, version: int) -> VersionRecord | None:
    data = _load(view, keys.version_key(coords, version))
    return None if data is None else VersionRecord.from_json(data)


def read_release(view: StateView, coords: Coords, revision: int) -> Release | None:
    if revision <= 0:
        return None
    data = _load(view, keys.release_key(coords, revision))
    return None if data is None else Release.from_json(data)


def dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
