"""A Raft journal for pysyncobj that fsyncs before anything is acknowledged.

pysyncobj 0.3.17 writes its log into an mmap and its term and vote into a `.meta`
file, and fsyncs neither, so a power loss can drop an acknowledged entry or let a node
vote twice in one term. This journal keeps pysyncobj's `Journal` interface and adds:

- entries are appended to a buffer and written plus `fdatasync`ed by `sync()`. The
  group-commit transport calls `sync()` once before it releases the messages of a tick
  (append-entries replies, forwarded commands, heartbeats), so one fsync covers every
  entry that tick added: a follower's "I have it" and a leader's append-entries both
  leave only after the entries are on disk.
- term and vote are written to `<journal>.meta` through a temporary file, fsync,
  rename and a directory fsync before `setCurrentTerm` returns, i.e. before any vote
  request or vote grant can be sent.
- each record carries a CRC32; a torn tail after a crash is cut off at load.

With `durable=False` (bench or throwaway dev clusters only) the fsyncs are skipped.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import zlib
from pathlib import Path
from typing import Any

from conflux_node.consensus.fsync import fsync_dir, write_atomically

MAGIC = b"CFXJ1\n"
_HEAD = struct.Struct("<II")  # length of (idx, term, command), crc32 of the same
_ENTRY = struct.Struct("<QQ")  # idx, term

Entry = tuple[bytes, int, int]  # (command, idx, term), as pysyncobj stores them


class DurableJournal:
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self._path = path
        self._meta_path = path.with_name(path.name + ".meta")
        self._commit_path = path.with_name(path.name + ".commit")
        self._durable = durable
        self._lock = threading.Lock()
        self._entries: list[Entry] = []
        self._offsets: list[int] = []  # start offset of each entry's record
        self._pending = bytearray()  # records not yet written to the file
        self._end = len(MAGIC)  # end of what is written to the file
        self._dirty = False  # written or truncated since the last fsync
        self._meta: dict[str, Any] = self._load_meta()
        self._commit_index = self._load_commit_index()
        self._commit_changed = False
        self.fsync_count = 0
        self._fd = self._open_and_load()

    # --- loading -------------------------------------------------------------------

    def _load_meta(self) -> dict[str, Any]:
        try:
            loaded: dict[str, Any] = json.loads(self._meta_path.read_bytes())
        except FileNotFoundError:
            return {}
        return loaded

    def _load_commit_index(self) -> int:
        try:
            return int(self._commit_path.read_text() or 1)
        except (FileNotFoundError, ValueError):
            return 1

    def _open_and_load(self) -> int:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        data = b""
        size = os.fstat(fd).st_size
        if size:
            data = os.pread(fd, size, 0)
        if not data.startswith(MAGIC):
            os.ftruncate(fd, 0)
            os.pwrite(fd, MAGIC, 0)
            self._sync_fd(fd)
            if self._durable:
                fsync_dir(self._path.parent)
            return fd
        offset = len(MAGIC)
        while offset + _HEAD.size <= len(data):
            length, crc = _HEAD.unpack_from(data, offset)
            body = data[offset + _HEAD.size : offset + _HEAD.size + length]
            if len(body) != length or zlib.crc32(body) != crc or length < _ENTRY.size:
                break  # a torn or corrupt tail: everything from here was never acknowledged
            idx, term = _ENTRY.unpack_from(body)
            self._entries.append((bytes(body[_ENTRY.size :]), idx, term))
            self._offsets.append(offset)
            offset += _HEAD.size + length
        if offset != len(data):
            os.ftruncate(fd, offset)
            self._sync_fd(fd)
        self._end = offset
        return fd

    def _sync_fd(self, fd: int) -> None:
        if self._durable:
            os.fdatasync(fd)
            self.fsync_count += 1

    # --- durability ----------------------------------------------------------------

    def sync(self) -> None:
        """Write buffered entries and fsync them; a no-op when nothing changed."""
        with self._lock:
            if self._pending:
                os.pwrite(self._fd, bytes(self._pending), self._end)
                self._end += len(self._pending)
                self._pending.clear()
                self._dirty = True
            if self._dirty:
                self._sync_fd(self._fd)
                self._dirty = False

    @property
    def needs_sync(self) -> bool:
        return bool(self._pending) or self._dirty

    # --- pysyncobj's Journal interface ------------------------------------------------

    def add(self, command: bytes, idx: int, term: int) -> None:
        command = bytes(command)
        body = _ENTRY.pack(idx, term) + command
        with self._lock:
            self._offsets.append(self._end + len(self._pending))
            self._entries.append((command, idx, term))
            self._pending += _HEAD.pack(len(body), zlib.crc32(body)) + body

    def clear(self) -> None:
        self.deleteEntriesTo(len(self._entries))

    def deleteEntriesFrom(self, entry_from: int) -> None:
        with self._lock:
            if entry_from >= len(self._entries):
                return
            cut = self._offsets[entry_from]
            del self._entries[entry_from:]
            del self._offsets[entry_from:]
            if cut >= self._end:
                del self._pending[cut - self._end :]
            else:
                self._pending.clear()
                os.ftruncate(self._fd, cut)
                self._end = cut
                self._dirty = True

    def deleteEntriesTo(self, entry_to: int) -> None:
        """Drop the first `entry_to` entries (log compaction): rewrite the file."""
        with self._lock:
            if self._durable:
                fsync_dir(self._path.parent)  # the snapshot's rename must be durable first
            kept = self._entries[entry_to:]
            records = bytearray(MAGIC)
            offsets = []
            for command, idx, term in kept:
                offsets.append(len(records))
                body = _ENTRY.pack(idx, term) + command
                records += _HEAD.pack(len(body), zlib.crc32(body)) + body
            write_atomically(self._path, bytes(records), durable=self._durable)
            os.close(self._fd)
            self._fd = os.open(self._path, os.O_RDWR)
            self._entries, self._offsets = kept, offsets
            self._pending.clear()
            self._end, self._dirty = len(records), False

    def __getitem__(self, item: int | slice) -> Any:
        return self._entries[item]

    def __len__(self) -> int:
        return len(self._entries)

    def _destroy(self) -> None:
        self.sync()
        self.onOneSecondTimer()
        os.close(self._fd)

    def flush(self) -> None:
        self.sync()

    def setRaftCommitIndex(self, raft_commit_index: int) -> None:
        # Not needed for safety (a restarted node relearns it from the leader), so it is
        # kept apart from term and vote and persisted lazily, once a second, without fsync.
        if self._commit_index != raft_commit_index:
            self._commit_index = raft_commit_index
            self._commit_changed = True

    def getRaftCommitIndex(self) -> int:
        return self._commit_index

    def setCurrentTerm(self, term: int, voted_for: str | None) -> None:
        self._meta["term"] = term
        self._meta["voted_for"] = voted_for
        write_atomically(self._meta_path, json.dumps(self._meta).encode(), durable=self._durable)

    def getCurrentTerm(self) -> int:
        return int(self._meta.get("term", 0))

    def getVotedForNodeId(self) -> str | None:
        voted: str | None = self._meta.get("voted_for")
        return voted

    def onOneSecondTimer(self) -> None:
        if self._commit_changed:
            write_atomically(self._commit_path, str(self._commit_index).encode(), durable=False)
            self._commit_changed = False
