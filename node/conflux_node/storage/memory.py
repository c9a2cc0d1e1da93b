"""The in-memory twin of `RocksStore`, for unit tests of everything above storage."""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from conflux_node.storage.protocol import APPLIED_KEY, Write, decode_index, encode_index


class MemoryStore:
    def __init__(self) -> None:
        self._data: dict[bytes, bytes] = {}
        self._keys: list[bytes] = []

    def get(self, key: bytes) -> bytes | None:
        return self._data.get(key)

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        start = bisect.bisect_left(self._keys, prefix)
        selected = []
        for key in self._keys[start:]:
            if not key.startswith(prefix):
                break
            selected.append((key, self._data[key]))
        return iter(reversed(selected) if reverse else selected)

    @property
    def applied_index(self) -> int:
        return decode_index(self._data.get(APPLIED_KEY))

    def write(self, writes: Sequence[Write], index: int) -> None:
        for key, value in (*writes, (APPLIED_KEY, encode_index(index))):
            if value is None:
                if self._data.pop(key, None) is not None:
                    self._keys.remove(key)
            else:
                if key not in self._data:
                    bisect.insort(self._keys, key)
                self._data[key] = value

    def checkpoint(self, target: Path) -> int:
        target.mkdir(parents=True, exist_ok=True)
        dumped = {k.hex(): v.hex() for k, v in self._data.items()}
        (target / "memory.json").write_text(json.dumps(dumped))
        return self.applied_index

    def restore(self, source: Path) -> None:
        loaded = json.loads((source / "memory.json").read_text())
        self._data = {bytes.fromhex(k): bytes.fromhex(v) for k, v in loaded.items()}
        self._keys = sorted(self._data)

    def close(self) -> None:
        self._data.clear()
        self._keys.clear()
