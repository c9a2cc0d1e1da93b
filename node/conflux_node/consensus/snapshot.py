"""Snapshots for pysyncobj's serializer hook, built from RocksDB checkpoints.

pysyncobj calls `serialize(path, raft_data)` when it compacts its log and
`deserialize(path)` when it starts or when the leader ships it a snapshot. A snapshot
file is a tar holding `raft.pickle` (pysyncobj's own (last entry, previous entry,
members) tuple plus our applied index) and `db/`, a RocksDB checkpoint.

On load, the live store is replaced only when it is behind the snapshot. At a plain
restart the live store is usually ahead, so it is kept and the journal entries after
its applied index are applied again: no full replay.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conflux_node.storage.protocol import Store

log = logging.getLogger(__name__)


class SnapshotStore:
    def __init__(
        self,
        store: Store,
        work_dir: Path,
        *,
        durable: bool,
        on_restore: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._on_restore = on_restore or (lambda: None)
        self._work = work_dir
        self._durable = durable
        self.restored = 0  # how many times a snapshot replaced the live store

    def serialize(self, path: str, raft_data: tuple[Any, ...]) -> None:
        staging = self._work / "checkpoint"
        self._store.checkpoint(staging)
        header = pickle.dumps({"raft": raft_data, "applied": self._store.applied_index})
        with open(path, "wb") as f:
            with tarfile.open(fileobj=f, mode="w") as tar:
                info = tarfile.TarInfo("raft.pickle")
                info.size = len(header)
                tar.addfile(info, io.BytesIO(header))
                tar.add(staging, arcname="db")
            f.flush()
            if self._durable:
                os.fsync(f.fileno())
        shutil.rmtree(staging)

    def deserialize(self, path: str) -> tuple[Any, ...]:
        with tarfile.open(path, mode="r") as tar:
            member = tar.extractfile("raft.pickle")
            assert member is not None
            header = pickle.loads(member.read())  # noqa: S301
            if self._store.applied_index < header["applied"]:
                self._restore_from(tar, header["applied"])
        raft: tuple[Any, ...] = header["raft"]
        return raft

    def _restore_from(self, tar: tarfile.TarFile, applied: int) -> None:
        staging = self._work / "restore"
        if staging.exists():
            shutil.rmtree(staging)
        members = [m for m in tar.getmembers() if m.name.startswith("db/")]
        tar.extractall(staging, members=members, filter="data")
        log.info("restoring state from snapshot at applied index %d", applied)
        self._store.restore(staging / "db")
        shutil.rmtree(staging)
        self.restored += 1
        self._on_restore()
