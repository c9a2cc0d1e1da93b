"""Snapshots for pysyncobj's serializer hook, built from RocksDB checkpoints.

pysyncobj calls `serialize(tmp_path, raft_data)` when it compacts its log, renames
`tmp_path` over the snapshot file at once, and polls `check()` (its
`serializeChecker`) every tick; it drops journal entries only when `check()` reports
success. It calls `deserialize(path)` at start and when the leader ships a snapshot.

A snapshot file is a tar holding `raft.pickle` (pysyncobj's (last entry, previous
entry, members) tuple plus the applied index of the checkpoint) and `db/`, a RocksDB
checkpoint.

Building one (a checkpoint and a tar of every SST file) takes tens to hundreds of
milliseconds, far too long for pysyncobj's thread, which would stall every write and
heartbeat meanwhile. So only the very first snapshot is built inline; later ones are
built on a background thread while `tmp_path` is a hard link to the previous snapshot
(pysyncobj's rename then changes nothing). When the thread is done, `check()` (on
pysyncobj's thread, after that rename) moves the new file into place and reports
success.

The checkpoint is taken a little after pysyncobj chose the snapshot's index, so it may
be *ahead* of it. That is harmless: it records its own applied index, and the state
machine skips entries at or below the store's applied index when the log after the
snapshot is applied.

On load, the live store is replaced only when it is behind the snapshot. At a plain
restart the live store is usually ahead, so it is kept and only the journal entries
after its applied index are applied: no full replay.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import shutil
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pysyncobj.config import SERIALIZER_STATE

from conflux_node.consensus.fsync import fsync_dir
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
        self._work = work_dir
        self._durable = durable
        self._on_restore = on_restore or (lambda: None)
        self._builder: threading.Thread | None = None
        self._result: bool | None = None  # outcome of the last build, until reported
        self._target: Path | None = None  # where a finished background build goes
        self.restored = 0  # how many times a snapshot replaced the live store

    # --- writing ---------------------------------------------------------------------

    def serialize(self, tmp_path: str, raft_data: tuple[Any, ...]) -> None:
        final = Path(tmp_path.removesuffix(".tmp"))
        if not final.exists():
            self._build(Path(tmp_path), raft_data)
            self._result = True
            return
        Path(tmp_path).unlink(missing_ok=True)
        os.link(final, tmp_path)
        self._target = final
        self._result = None
        self._builder = threading.Thread(
            target=self._build_in_background, args=(raft_data,), name="snapshot", daemon=True
        )
        self._builder.start()

    def _building_path(self) -> Path:
        return self._work / "snapshot.building"

    def _build_in_background(self, raft_data: tuple[Any, ...]) -> None:
        try:
            self._build(self._building_path(), raft_data)
            self._result = True
        except Exception:
            log.exception("building a snapshot failed")
            self._result = False

    def _build(self, path: Path, raft_data: tuple[Any, ...]) -> None:
        staging = self._work / "checkpoint"
        applied = self._store.checkpoint(staging)
        header = pickle.dumps({"raft": raft_data, "applied": applied})
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

    def check(self) -> int:
        """pysyncobj's serializeChecker: how the current build is going."""
        if self._builder is not None:
            if self._builder.is_alive():
                return int(SERIALIZER_STATE.SERIALIZING)
            self._builder = None
            if self._result and self._target is not None:
                os.replace(self._building_path(), self._target)
                if self._durable:
                    fsync_dir(self._target.parent)
        if self._result is None:
            return int(SERIALIZER_STATE.NOT_SERIALIZING)
        outcome, self._result = self._result, None
        return int(SERIALIZER_STATE.SUCCESS if outcome else SERIALIZER_STATE.FAILED)

    # --- reading ---------------------------------------------------------------------

    def deserialize(self, path: str) -> tuple[Any, ...]:
        with tarfile.open(path, mode="r") as tar:
            member = tar.extractfile("raft.pickle")
            assert member is not None
            header = pickle.loads(member.read())  # noqa: S301 - written by this cluster
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
