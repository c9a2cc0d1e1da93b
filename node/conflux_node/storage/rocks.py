"""RocksDB-backed state via rocksdict: one WriteBatch per applied command.

Writes skip the per-batch fsync on purpose. The Raft journal is the durable record
(it is fsynced before any acknowledgement); after a crash RocksDB recovers a consistent
prefix of its WAL and the journal replays whatever came after `applied_index`.

Installing a snapshot swaps the database under readers on the event loop: a read that
meets the closed or half-swapped handle is answered `Unavailable` (503, retry), never
a 500, and the swap takes milliseconds.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from rocksdict import BlockBasedOptions, Checkpoint, Options, Rdict, WriteBatch, WriteOptions

from conflux_node.model.errors import Unavailable
from conflux_node.storage.protocol import (
    APPLIED_KEY,
    Write,
    decode_index,
    encode_index,
    prefix_end,
)

FLUSH_WAIT_SECONDS = 5.0
BLOOM_BITS_PER_KEY = 10
WRITE_BUFFER_BYTES = 8 * 1024 * 1024  # small memtables: flushes stay short and in the background


def _options() -> Options:
    options = Options(raw_mode=True)
    options.create_if_missing(True)
    options.set_write_buffer_size(WRITE_BUFFER_BYTES)
    # Point reads (a config's record, the identity revision on every request) would
    # otherwise probe every level-0 file; a whole-key bloom filter skips the misses.
    table = BlockBasedOptions()
    table.set_bloom_filter(BLOOM_BITS_PER_KEY, False)
    options.set_block_based_table_factory(table)
    return options


class RocksStore:
    def __init__(self, path: Path) -> None:
        self._path = path
        _recover_interrupted_restore(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(path), _options())
        self._write_options = WriteOptions()
        self._applied = decode_index(self._db.get(APPLIED_KEY))
        self._swaps = 0  # odd while a restore swaps the database

    @property
    def path(self) -> Path:
        return self._path

    def get(self, key: bytes) -> bytes | None:
        swaps = self._swaps
        try:
            value: bytes | None = self._db.get(key)
        except Exception as error:
            raise self._swapped(swaps, error) from None
        return value

    def _swapped(self, swaps: int, error: Exception) -> Exception:
        """`Unavailable` if a restore overlapped the read, else the error itself."""
        if swaps % 2 or self._swaps != swaps:
            return Unavailable("this node is installing a snapshot; retry")
        return error

    def scan(self, prefix: bytes, *, reverse: bool = False) -> Iterator[tuple[bytes, bytes]]:
        swaps = self._swaps
        try:
            yield from self._scan(prefix, reverse)
        except Exception as error:
            raise self._swapped(swaps, error) from None

    def _scan(self, prefix: bytes, reverse: bool) -> Iterator[tuple[bytes, bytes]]:
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
        """A checkpoint (hard links) of the live DB.

        rocksdict holds the GIL while RocksDB works, and a checkpoint first flushes the
        memtable, which stalls every thread of the node. So the memtable is flushed
        first by RocksDB's own background threads, and the checkpoint then has almost
        nothing left to flush. The index returned was read before the checkpoint, so it
        is at most the checkpoint's own (writes may land in between; replay skips them).
        """
        if target.exists():
            shutil.rmtree(target)
        applied = self._applied
        self._db.flush(False)
        deadline = time.monotonic() + FLUSH_WAIT_SECONDS
        while self._flush_pending() and time.monotonic() < deadline:
            time.sleep(0.002)
        Checkpoint(self._db).create_checkpoint(str(target))
        return applied

    def _flush_pending(self) -> bool:
        return bool(
            self._db.property_int_value("rocksdb.num-immutable-mem-table")
            or self._db.property_int_value("rocksdb.mem-table-flush-pending")
        )

    def restore(self, source: Path) -> None:
        staged = self._path.with_name(self._path.name + ".restoring")
        if staged.exists():
            shutil.rmtree(staged)
        shutil.copytree(source, staged)
        self._swaps += 1
        try:
            self._swap(staged)
        finally:
            self._swaps += 1

    def _swap(self, staged: Path) -> None:
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
