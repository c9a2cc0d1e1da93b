"""RocksDB-backed state via rocksdict: one WriteBatch per applied command.

Writes skip the per-batch fsync on purpose. The Raft journal is the durable record
(it is fsynced before any acknowledgement); after a crash RocksDB recovers a consistent
prefix of its WAL and the journal replays whatever came after `applied_index`.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from rocksdict import AccessType, Checkpoint, Options, Rdict, WriteBatch, WriteOptions

from conflux_node.storage.protocol import (
    APPLIED_KEY,
    Write,
    decode_index,
    encode_index,
    prefix_end,
)


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    return options


class RocksStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        _recover_interrupted_restore(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), _options())
        self._write_options = WriteOptions()
        self._applied = decode_index(self._db.get(APPLIED_KEY))

    @property
    def path(self) -> Path:
        return self._path

    def get(self, key: bytes) -> bytes | None:
        value: bytes | None = self._db.get(key)
        return value

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        it = self._db.iter()
        if reverse and not prefix.rstrip(b"\xff"):
            it.seek_to_last()  # no key bounds this prefix from above
        elif reverse:
            it.seek_for_prev(prefix_end(prefix))
            if it.valid() and it.key() == prefix_end(prefix):
                it.prev()
        else:
            it.seek(prefix)
        while it.valid():
            key: bytes = it.key()
            if not key.startswith(prefix):
                break
            yield key, it.value()
            if reverse:
                it.prev()
            else:
                it.next()

    @property
    def applied_index(self) -> int:
        return self._applied

    def write(self, writes: Sequence[Write], index: int) -> None:
        batch = WriteBatch(raw_mode=True)
        for key, value in writes:
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        batch.put(APPLIED_KEY, encode_index(index))
        self._db.write(batch, self._write_options)
        self._applied = index

    def checkpoint(self, target: Path) -> int:
        if target.exists():
            shutil.rmtree(target)
        Checkpoint(self._db).create_checkpoint(str(target))
        copy = Rdict(str(target), _options(), access_type=AccessType.read_only())
        try:
            return decode_index(copy.get(APPLIED_KEY))
        finally:
            copy.close()

    def restore(self, source: Path) -> None:
        staged = self._path.with_name(self._path.name + ".restoring")
        if staged.exists():
            shutil.rmtree(staged)
        shutil.copytree(source, staged)
        self._db.close()
        old = self._path.with_name(self._path.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        self._path.rename(old)
        staged.rename(self._path)
        shutil.rmtree(old)
        self._db = Rdict(str(self._path), _options())
        self._applied = decode_index(self._db.get(APPLIED_KEY))

    def digest(self) -> str:
        """sha256 over every key and value except the applied index: equal on equal state."""
        h = hashlib.sha256()
        for key, value in self._db.items():
            assert isinstance(key, bytes) and isinstance(value, bytes)
            if key != APPLIED_KEY:
                h.update(len(key).to_bytes(4, "big") + key + len(value).to_bytes(4, "big") + value)
        return h.hexdigest()

    def close(self) -> None:
        self._db.close()


def _recover_interrupted_restore(path: Path) -> None:
    """Finish or undo a `restore` that a crash cut between its two renames."""
    old = path.with_name(path.name + ".old")
    staged = path.with_name(path.name + ".restoring")
    if not path.exists() and staged.exists():
        staged.rename(path)
    if not path.exists() and old.exists():
        old.rename(path)
    for leftover in (old, staged):
        if leftover.exists():
            shutil.rmtree(leftover)
