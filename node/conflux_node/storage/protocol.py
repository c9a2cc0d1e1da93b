"""The storage seam: what the state machine needs from a key-value store.

Two implementations share it: `RocksStore` (real files) and `MemoryStore` (the
in-memory twin for unit tests). Each applied command becomes exactly one atomic
`write`, which also records the Raft index it came from; replaying an index at or
below `applied_index` is skipped, so log replay after a restart changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

APPLIED_KEY = b"m/applied_index"

Write = tuple[bytes, bytes | None]


class Store(Protocol):
    def get(self, key: bytes) -> bytes | None: ...

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]: ...

    @property
    def applied_index(self) -> int: ...

    def write(self, writes: Sequence[Write], index: int) -> None:
        """Apply all writes and set `applied_index = index` atomically."""
        ...

    def checkpoint(self, target: Path) -> int:
        """Write a consistent copy of the whole state into the directory `target`; return
        the applied index that copy holds. Safe to call while another thread writes."""
        ...

    def restore(self, source: Path) -> None:
        """Replace the whole state with the copy in `source` (made by `checkpoint`)."""
        ...

    def close(self) -> None: ...


def encode_index(index: int) -> bytes:
    return index.to_bytes(8, "big")


def decode_index(raw: bytes | None) -> int:
    return 0 if raw is None else int.from_bytes(raw, "big")


def prefix_end(prefix: bytes) -> bytes:
    """The smallest key greater than every key that starts with `prefix`."""
    stripped = prefix.rstrip(b"\xff")
    if not stripped:
        return b"\xff" * (len(prefix) + 1)
    return stripped[:-1] + bytes([stripped[-1] + 1])
