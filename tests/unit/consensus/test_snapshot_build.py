"""SnapshotStore as pysyncobj drives it: inline first build, then background builds
that replace the snapshot file only when pysyncobj's checker hears they are done."""

from __future__ import annotations

import os
import pickle
import tarfile
import time
from pathlib import Path

from pysyncobj.config import SERIALIZER_STATE

from conflux_node.consensus.snapshot import SnapshotStore
from conflux_node.storage.rocks import RocksStore

RAFT = ((b"last", 7, 2), (b"prev", 6, 2), ["a:1", "b:2"])


def applied_in(path: Path) -> int:
    with tarfile.open(path) as tar:
        member = tar.extractfile("raft.pickle")
        assert member is not None
        return int(pickle.loads(member.read())["applied"])


def pysyncobj_serialize(snapshots: SnapshotStore, final: Path) -> None:
    """What pysyncobj's Serializer does: our hook on `<file>.tmp`, then a rename."""
    tmp = str(final) + ".tmp"
    snapshots.serialize(tmp, RAFT)
    os.replace(tmp, final)


def wait_outcome(snapshots: SnapshotStore) -> int:
    for _ in range(500):
        state = snapshots.check()
        if state != SERIALIZER_STATE.SERIALIZING:
            return state
        time.sleep(0.01)
    raise AssertionError("snapshot never finished")


def test_first_inline_then_in_background(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    store.write([(b"k", b"1")], 10)
    snapshots = SnapshotStore(store, tmp_path, durable=True)
    final = tmp_path / "snapshot"
    assert snapshots.check() == SERIALIZER_STATE.NOT_SERIALIZING

    pysyncobj_serialize(snapshots, final)  # no snapshot yet: built inline
    assert applied_in(final) == 10
    assert snapshots.check() == SERIALIZER_STATE.SUCCESS
    assert snapshots.check() == SERIALIZER_STATE.NOT_SERIALIZING

    store.write([(b"k", b"2")], 20)
    pysyncobj_serialize(snapshots, final)
    # Until the checker reports success, the file is still the previous snapshot.
    assert applied_in(final) == 10
    assert wait_outcome(snapshots) == SERIALIZER_STATE.SUCCESS
    assert applied_in(final) == 20
    assert snapshots.check() == SERIALIZER_STATE.NOT_SERIALIZING
    assert not (tmp_path / "snapshot.building").exists()

    target = RocksStore(tmp_path / "other")
    SnapshotStore(target, tmp_path / "w2", durable=False).deserialize(str(final))
    assert target.get(b"k") == b"2" and target.applied_index == 20
    store.close()
    target.close()


def test_a_failed_background_build_keeps_the_old_snapshot(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    store.write([(b"k", b"1")], 5)
    snapshots = SnapshotStore(store, tmp_path, durable=False)
    final = tmp_path / "snapshot"
    pysyncobj_serialize(snapshots, final)
    assert snapshots.check() == SERIALIZER_STATE.SUCCESS
    store.close()  # the next build cannot read the store
    pysyncobj_serialize(snapshots, final)
    assert wait_outcome(snapshots) == SERIALIZER_STATE.FAILED
    assert applied_in(final) == 5
