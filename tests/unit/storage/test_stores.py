"""Unit tests for the two Store implementations (MemoryStore and RocksStore)."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conflux_node.model.errors import Unavailable
from conflux_node.storage.memory import MemoryStore
from conflux_node.storage.protocol import APPLIED_KEY, Store, prefix_end
from conflux_node.storage.rocks import RocksStore

Factory = Callable[[Path], Store]

FACTORIES: dict[str, Factory] = {
    "memory": lambda _path: MemoryStore(),
    "rocks": lambda path: RocksStore(path),
}

KEYS = [
    b"u/zz",
    b"v/a",
    b"v/a/0000000001",
    b"v/a/0000000002",
    b"v/a/0000000010",
    b"v/a0",  # == prefix_end(b"v/a/"): must stay out of the b"v/a/" reverse scan
    b"v/ab/0000000001",
    b"v/ab/0000000002",
    b"v/b/0000000001",
    b"w",
]


@pytest.fixture(params=sorted(FACTORIES))
def make(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """Builds stores of one kind under tmp_path; closes them all at teardown."""
    opened: list[Store] = []
    factory = FACTORIES[request.param]

    def build(name: str | Path = "db") -> Store:
        store = factory(tmp_path / name)
        opened.append(store)
        return store

    yield build  # type: ignore[misc]
    for store in opened:
        store.close()


def contents(store: Store) -> list[tuple[bytes, bytes]]:
    return list(store.scan(b""))


def fill(store: Store, keys: list[bytes], index: int = 1) -> None:
    store.write([(k, b"val:" + k) for k in keys], index)


# --- get / scan ----------------------------------------------------------------------


def test_get(make: Factory) -> None:
    store = make()
    assert store.get(b"k") is None
    store.write([(b"k", b"v"), (b"k2", b"")], 1)
    assert store.get(b"k") == b"v"
    assert store.get(b"k2") == b""
    assert store.get(b"k3") is None


def test_scan_prefix_in_order_without_mixing(make: Factory) -> None:
    store = make()
    fill(store, list(reversed(KEYS)))
    assert [k for k, _ in store.scan(b"v/a/")] == [
        b"v/a/0000000001",
        b"v/a/0000000002",
        b"v/a/0000000010",
    ]
    assert [k for k, _ in store.scan(b"v/ab/")] == [b"v/ab/0000000001", b"v/ab/0000000002"]
    assert [k for k, _ in store.scan(b"v/b/")] == [b"v/b/0000000001"]
    assert [k for k, _ in store.scan(b"v/")] == [k for k in KEYS if k.startswith(b"v/")]
    assert list(store.scan(b"v/c/")) == []
    assert list(store.scan(b"zzz")) == []
    assert all(v == b"val:" + k for k, v in store.scan(b"v/"))


def test_scan_reverse(make: Factory) -> None:
    store = make()
    fill(store, KEYS)
    assert [k for k, _ in store.scan(b"v/a/", reverse=True)] == [
        b"v/a/0000000010",
        b"v/a/0000000002",
        b"v/a/0000000001",
    ]
    assert [k for k, _ in store.scan(b"v/ab/", reverse=True)] == [
        b"v/ab/0000000002",
        b"v/ab/0000000001",
    ]
    # The prefix range ends past the last key in the store.
    assert [k for k, _ in store.scan(b"w", reverse=True)] == [b"w"]
    assert [k for k, _ in store.scan(b"v/", reverse=True)] == [
        k for k in reversed(KEYS) if k.startswith(b"v/")
    ]
    assert list(store.scan(b"v/c/", reverse=True)) == []
    assert list(store.scan(b"a", reverse=True)) == []


def test_scan_prefix_with_high_bytes(make: Factory) -> None:
    store = make()
    keys = [b"k\xfe", b"k\xff", b"k\xff\x00", b"k\xff\xff", b"k\xff\xff\x01", b"l"]
    fill(store, keys)
    assert [k for k, _ in store.scan(b"k\xff")] == keys[1:5]
    assert [k for k, _ in store.scan(b"k\xff", reverse=True)] == list(reversed(keys[1:5]))


def test_full_reverse_scan(make: Factory) -> None:
    store = make()
    fill(store, KEYS)
    assert [k for k, _ in store.scan(b"", reverse=True)] == sorted(
        [*KEYS, APPLIED_KEY], reverse=True
    )


def test_rocks_reverse_scan_of_all_ff_prefix(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    try:
        fill(store, [b"a", b"\xff", b"\xff\x01"])
        assert [k for k, _ in store.scan(b"", reverse=True)][:2] == [b"\xff\x01", b"\xff"]
    finally:
        store.close()


def test_prefix_end() -> None:
    assert prefix_end(b"v/a/") == b"v/a0"
    assert prefix_end(b"k\xff") == b"l"
    assert prefix_end(b"k\xfe\xff\xff") == b"k\xff"


# --- write ---------------------------------------------------------------------------


def test_write_with_deletes(make: Factory) -> None:
    store = make()
    store.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], 1)
    store.write([(b"a", None), (b"c", b"33"), (b"d", b"4"), (b"missing", None)], 2)
    assert contents(store) == [
        (b"b", b"2"),
        (b"c", b"33"),
        (b"d", b"4"),
        (APPLIED_KEY, (2).to_bytes(8, "big")),
    ]
    assert store.get(b"a") is None
    # Delete then re-put within later writes.
    store.write([(b"b", None)], 3)
    store.write([(b"b", b"again")], 4)
    assert store.get(b"b") == b"again"
    assert [k for k, _ in store.scan(b"")] == [b"b", b"c", b"d", APPLIED_KEY]


def test_later_write_in_one_batch_wins(make: Factory) -> None:
    store = make()
    store.write([(b"a", b"1"), (b"a", b"2")], 1)
    assert store.get(b"a") == b"2"
    store.write([(b"a", b"3"), (b"a", None)], 2)
    assert store.get(b"a") is None


def test_applied_index(make: Factory) -> None:
    store = make()
    assert store.applied_index == 0
    store.write([(b"a", b"1")], 5)
    assert store.applied_index == 5
    store.write([], 6)  # a rejected command still advances the index
    assert store.applied_index == 6
    assert store.get(b"a") == b"1"


def test_rocks_reopen_keeps_data_and_applied_index(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    assert store.path == tmp_path / "db"
    store.write([(b"a", b"1"), (b"b", b"2")], 7)
    store.write([(b"a", None)], 8)
    expected = contents(store)
    store.close()
    reopened = RocksStore(tmp_path / "db")
    try:
        assert reopened.applied_index == 8
        assert contents(reopened) == expected
        assert reopened.get(b"a") is None
    finally:
        reopened.close()


def test_rocks_creates_missing_parent(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "deep" / "er" / "db")
    try:
        store.write([(b"a", b"1")], 1)
        assert store.get(b"a") == b"1"
    finally:
        store.close()


# --- checkpoint / restore ------------------------------------------------------------


def test_checkpoint_then_restore_into_another_store(make: Factory, tmp_path: Path) -> None:
    source = make("source")
    fill(source, KEYS, index=3)
    source.write([(b"v/a", None)], 7)
    target = make("target")
    target.write([(b"only-in-target", b"x"), (b"v/a", b"stale")], 99)

    source.checkpoint(tmp_path / "ckpt")
    source.write([(b"after-checkpoint", b"y")], 8)  # not part of the copy
    target.restore(tmp_path / "ckpt")

    assert target.applied_index == 7
    expected = [kv for kv in contents(source) if kv[0] != b"after-checkpoint"]
    expected = [(k, (7).to_bytes(8, "big")) if k == APPLIED_KEY else (k, v) for k, v in expected]
    assert contents(target) == expected
    assert target.get(b"only-in-target") is None
    # The restored store keeps working.
    target.write([(b"new", b"1")], 100)
    assert target.get(b"new") == b"1"
    assert target.applied_index == 100


def test_rocks_restore_replaces_everything_and_survives_reopen(tmp_path: Path) -> None:
    source = RocksStore(tmp_path / "source")
    source.write([(b"s/1", b"a"), (b"s/2", b"b")], 4)
    source.checkpoint(tmp_path / "ckpt")
    source_contents = contents(source)
    source.close()

    target = RocksStore(tmp_path / "target")
    target.write([(f"t/{i}".encode(), b"x" * 100) for i in range(200)], 50)
    target.restore(tmp_path / "ckpt")
    assert contents(target) == source_contents
    assert target.applied_index == 4
    assert list(target.scan(b"t/")) == []
    target.close()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "source", "target"]
    reopened = RocksStore(tmp_path / "target")
    try:
        assert contents(reopened) == source_contents
        assert reopened.applied_index == 4
    finally:
        reopened.close()


def test_rocks_checkpoint_overwrites_existing_target(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    try:
        store.write([(b"a", b"1")], 1)
        store.checkpoint(tmp_path / "ckpt")
        store.write([(b"a", b"2")], 2)
        store.checkpoint(tmp_path / "ckpt")
        copy = RocksStore(tmp_path / "ckpt")
        try:
            assert copy.get(b"a") == b"2"
            assert copy.applied_index == 2
        finally:
            copy.close()
    finally:
        store.close()


# --- digest --------------------------------------------------------------------------


def _rocks_with(tmp_path: Path, name: str, writes: list[tuple[bytes, bytes]], index: int) -> str:
    store = RocksStore(tmp_path / name)
    try:
        store.write(writes, index)
        return store.digest()
    finally:
        store.close()


def test_rocks_digest(tmp_path: Path) -> None:
    base = [(b"a", b"1"), (b"b", b"2")]
    d1 = _rocks_with(tmp_path, "one", base, 1)
    assert d1 == _rocks_with(tmp_path, "same-other-index", list(reversed(base)), 42)
    assert d1 != _rocks_with(tmp_path, "other-value", [(b"a", b"1"), (b"b", b"3")], 1)
    assert d1 != _rocks_with(tmp_path, "extra-key", [*base, (b"c", b"")], 1)
    assert d1 != _rocks_with(tmp_path, "missing-key", base[:1], 1)
    # Key/value boundaries count: b"ab"+b"c" is not b"a"+b"bc".
    assert _rocks_with(tmp_path, "x", [(b"ab", b"c")], 1) != _rocks_with(
        tmp_path, "y", [(b"a", b"bc")], 1
    )


def test_rocks_digest_follows_deletes(tmp_path: Path) -> None:
    store = RocksStore(tmp_path / "db")
    try:
        store.write([(b"a", b"1")], 1)
        before = store.digest()
        store.write([(b"b", b"2")], 2)
        assert store.digest() != before
        store.write([(b"b", None)], 3)
        assert store.digest() == before
    finally:
        store.close()


# --- recovery from an interrupted restore --------------------------------------------


def _rocks_dir(path: Path, writes: list[tuple[bytes, bytes]], index: int) -> None:
    store = RocksStore(path)
    store.write(writes, index)
    store.close()


OLD = [(b"state", b"old")]
NEW = [(b"state", b"new"), (b"extra", b"1")]


def test_recovery_between_the_two_renames(tmp_path: Path) -> None:
    db = tmp_path / "db"
    _rocks_dir(db, OLD, 3)
    _rocks_dir(tmp_path / "staged", NEW, 9)
    db.rename(tmp_path / "db.old")
    (tmp_path / "staged").rename(tmp_path / "db.restoring")

    store = RocksStore(db)
    try:
        assert store.get(b"state") == b"new"
        assert store.get(b"extra") == b"1"
        assert store.applied_index == 9
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]


def test_reads_during_a_restore_are_unavailable_never_an_internal_error(
    tmp_path: Path,
) -> None:
    source = RocksStore(tmp_path / "source")
    source.write([(b"k", b"v")], 1)
    source.checkpoint(tmp_path / "ckpt")
    source.close()
    store = RocksStore(tmp_path / "live")
    store.write([(b"k", b"v")], 1)
    failures: list[Exception] = []
    reads = [0]
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                store.get(b"k")
                list(store.scan(b""))
                reads[0] += 1
            except Exception as error:
                failures.append(error)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for _ in range(5):
            store.restore(tmp_path / "ckpt")
    finally:
        done.set()
        thread.join(10)
        store.close()
    assert reads[0] > 0
    assert all(isinstance(error, Unavailable) for error in failures), failures


def test_recovery_when_restore_crashes_on_second_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "db"
    _rocks_dir(tmp_path / "source", NEW, 9)
    source = RocksStore(tmp_path / "source")
    source.checkpoint(tmp_path / "ckpt")
    source.close()
    store = RocksStore(db)
    store.write(OLD, 3)

    real_rename = Path.rename

    def crashing_rename(self: Path, target: Path) -> Path:
        if self.name == "db.restoring":
            raise OSError("power lost")
        return real_rename(self, target)

    with monkeypatch.context() as m:
        m.setattr(Path, "rename", crashing_rename)
        with pytest.raises(OSError, match="power lost"):
            store.restore(tmp_path / "ckpt")
    assert not db.exists()
    assert (tmp_path / "db.old").exists()
    assert (tmp_path / "db.restoring").exists()

    recovered = RocksStore(db)
    try:
        assert recovered.get(b"state") == b"new"
        assert recovered.applied_index == 9
    finally:
        recovered.close()
    assert not (tmp_path / "db.old").exists()
    assert not (tmp_path / "db.restoring").exists()


def test_recovery_before_first_rename_keeps_old_state(tmp_path: Path) -> None:
    db = tmp_path / "db"
    _rocks_dir(db, OLD, 3)
    _rocks_dir(tmp_path / "db.restoring", NEW, 9)
    store = RocksStore(db)
    try:
        assert store.get(b"state") == b"old"
        assert store.get(b"extra") is None
        assert store.applied_index == 3
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]


def test_recovery_after_both_renames_drops_old(tmp_path: Path) -> None:
    db = tmp_path / "db"
    _rocks_dir(db, NEW, 9)
    _rocks_dir(tmp_path / "db.old", OLD, 3)
    store = RocksStore(db)
    try:
        assert store.get(b"state") == b"new"
        assert store.applied_index == 9
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]


def test_recovery_with_only_old_copy(tmp_path: Path) -> None:
    db = tmp_path / "db"
    _rocks_dir(tmp_path / "db.old", OLD, 3)
    store = RocksStore(db)
    try:
        assert store.get(b"state") == b"old"
        assert store.applied_index == 3
    finally:
        store.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["db"]


def test_memory_store_close_empties_it() -> None:
    store = MemoryStore()
    store.write([(b"a", b"1")], 1)
    store.close()
    assert store.get(b"a") is None
    assert list(store.scan(b"")) == []


def test_memory_checkpoint_is_independent_copy(tmp_path: Path) -> None:
    store = MemoryStore()
    store.write([(b"a", b"1")], 1)
    store.checkpoint(tmp_path / "ckpt")
    store.write([(b"a", b"2"), (b"b", b"3")], 2)
    store.restore(tmp_path / "ckpt")
    assert contents(store) == [(b"a", b"1"), (APPLIED_KEY, (1).to_bytes(8, "big"))]
    shutil.rmtree(tmp_path / "ckpt")
    assert store.get(b"a") == b"1"
