"""Unit tests for StateMachine (log entry -> store) and SnapshotStore over MemoryStore."""

from __future__ import annotations

import logging
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from conflux_node.consensus.machine import InternalApplyError, StateMachine
from conflux_node.consensus.snapshot import SnapshotStore
from conflux_node.model import commands, keys
from conflux_node.model.apply import Event, apply
from conflux_node.model.commands import (
    CreateTenant,
    CreateVersion,
    DeleteConfig,
    PutConfig,
    SetRelease,
)
from conflux_node.model.entities import ConfigSpec, ReleaseSpec
from conflux_node.model.errors import ConfigNotFound
from conflux_node.model.names import Coords
from conflux_node.storage.memory import MemoryStore
from conflux_node.storage.protocol import Store
from conflux_node.storage.rocks import RocksStore

C = Coords("acme", "shop", "prod", "db")
NOW = "2026-01-01T00:00:00.000+00:00"
StoreT = TypeVar("StoreT", bound=Store)
RAFT = (None, (b"last", 7, 2), (b"prev", 6, 2), ["127.0.0.1:7071", "127.0.0.1:7072"])


def with_tenant(store: StoreT) -> StoreT:
    """`store` with C's tenant in it, applied before log entry 1 (config writes need it)."""
    effects = apply(store, CreateTenant(C.tenant, "root", NOW))
    assert effects.ok
    store.write(effects.writes, 0)
    return store


def put_config() -> bytes:
    return commands.encode(PutConfig(C, ConfigSpec("json"), "ss", "alice", NOW))


def create_version(content: str) -> bytes:
    return commands.encode(CreateVersion(C, content, f"sha-{content}", "", "ss", "bob", NOW))


def set_release(version: int) -> bytes:
    return commands.encode(SetRelease(C, ReleaseSpec((), version), None, "carol", NOW))


def dump(store: MemoryStore | RocksStore) -> list[tuple[bytes, bytes]]:
    return list(store.scan(b""))


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[Event]] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.batches.append(list(events))

    @property
    def kinds(self) -> list[list[str]]:
        return [[e.kind for e in batch] for batch in self.batches]


# --- StateMachine --------------------------------------------------------------------


def test_applies_and_returns_result() -> None:
    store = with_tenant(MemoryStore())
    machine = StateMachine(store)
    result = machine.apply_entry(1, put_config())
    assert isinstance(result, dict)
    assert result["created"] is True
    assert store.applied_index == 1
    assert store.get(keys.config_key(C)) is not None
    assert machine.apply_entry(2, create_version("a")) == {
        "version": 1,
        "sha256": "sha-a",
        "created": True,
    }
    assert store.get(keys.version_key(C, 1)) is not None
    assert store.applied_index == 2


def test_emits_events_to_sinks() -> None:
    first, second = Sink(), Sink()
    machine = StateMachine(with_tenant(MemoryStore()), first)
    machine.apply_entry(1, put_config())
    machine.subscribe(second)
    machine.apply_entry(2, create_version("a"))
    machine.apply_entry(3, set_release(1))
    assert first.kinds == [["config_put"], ["version_created"], ["release_changed"]]
    assert second.kinds == [["version_created"], ["release_changed"]]
    event = first.batches[1][0]
    assert event.coords == C
    assert dict(event.data) == {"version": 1, "sha256": "sha-a"}


def test_no_events_no_sink_call() -> None:
    sink = Sink()
    machine = StateMachine(with_tenant(MemoryStore()), sink)
    machine.apply_entry(1, put_config())
    machine.apply_entry(2, create_version("a"))
    machine.apply_entry(3, create_version("a"))  # duplicate: no events
    machine.apply_entry(4, commands.encode(DeleteConfig(Coords("x", "y", "z", "w"), "a", NOW)))
    assert sink.kinds == [["config_put"], ["version_created"]]


def test_rejection_is_returned_and_advances_index() -> None:
    store = MemoryStore()
    machine = StateMachine(store)
    result = machine.apply_entry(1, create_version("a"))
    assert isinstance(result, ConfigNotFound)
    assert store.applied_index == 1
    # Only the rejection's audit record is written, besides the index.
    assert [k for k, _ in dump(store)] == [
        keys.audit_key(1),
        b"m/applied_index",
        keys.AUDIT_SEQ,
    ]
    assert store.get(b"m/applied_index") == (1).to_bytes(8, "big")


def test_replayed_indexes_are_skipped() -> None:
    store = with_tenant(MemoryStore())
    sink = Sink()
    machine = StateMachine(store, sink)
    machine.apply_entry(1, put_config())
    machine.apply_entry(2, create_version("a"))
    before = dump(store)
    events_before = len(sink.batches)

    assert machine.apply_entry(2, create_version("b")) is None
    assert machine.apply_entry(1, put_config()) is None
    assert machine.apply_entry(1, b"garbage") is None
    assert dump(store) == before
    assert store.applied_index == 2
    assert len(sink.batches) == events_before

    assert machine.apply_entry(3, create_version("b"))["version"] == 2  # type: ignore[index]


def test_replay_after_restart_changes_nothing() -> None:
    store = with_tenant(MemoryStore())
    log = [put_config(), create_version("a"), set_release(1), create_version("b")]
    machine = StateMachine(store)
    for i, payload in enumerate(log, 1):
        machine.apply_entry(i, payload)
    before = dump(store)
    restarted = StateMachine(store)
    assert [restarted.apply_entry(i, p) for i, p in enumerate(log, 1)] == [None] * 4
    assert dump(store) == before


@pytest.mark.parametrize(
    "payload",
    [
        b"\xff\xfe not json",
        b'{"op": "drop_everything", "coords": {"tenant": "a", "app": "b", "env": "c", '
        b'"name": "d"}, "actor": "x", "now": "t"}',
        b'{"op": "put_config"}',
        b"[]",
    ],
    ids=["not-json", "unknown-op", "missing-fields", "not-an-object"],
)
def test_undecodable_payload_does_not_wedge(
    payload: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = with_tenant(MemoryStore())
    sink = Sink()
    machine = StateMachine(store, sink)
    machine.apply_entry(1, put_config())
    before = [kv for kv in dump(store) if kv[0] != b"m/applied_index"]

    with caplog.at_level(logging.ERROR, logger="conflux_node.consensus.machine"):
        result = machine.apply_entry(2, payload)
    assert isinstance(result, InternalApplyError)
    assert result.code == "internal"
    assert store.applied_index == 2
    assert [kv for kv in dump(store) if kv[0] != b"m/applied_index"] == before
    assert sink.kinds == [["config_put"]]
    assert any("log entry 2" in r.getMessage() for r in caplog.records)

    # The log moves on.
    assert machine.apply_entry(3, create_version("a"))["version"] == 1  # type: ignore[index]
    assert store.applied_index == 3


# --- SnapshotStore -------------------------------------------------------------------


def _machine_with_state(store: MemoryStore | RocksStore) -> StateMachine:
    machine = StateMachine(with_tenant(store))
    for i, payload in enumerate(
        [put_config(), create_version("a"), create_version("b"), set_release(2)], 1
    ):
        machine.apply_entry(i, payload)
    return machine


def test_snapshot_round_trip_into_empty_store(tmp_path: Path) -> None:
    source = MemoryStore()
    _machine_with_state(source)
    path = tmp_path / "snapshot"
    SnapshotStore(source, tmp_path / "w1", durable=False).serialize(str(path), RAFT)
    assert not (tmp_path / "w1" / "checkpoint").exists()
    with tarfile.open(path) as tar:
        names = tar.getnames()
    assert "raft.pickle" in names
    assert any(n.startswith("db") for n in names)

    target = MemoryStore()
    hooks: list[str] = []
    snapshots = SnapshotStore(
        target, tmp_path / "w2", durable=False, on_restore=lambda: hooks.append("restored")
    )
    assert snapshots.deserialize(str(path)) == RAFT
    assert snapshots.restored == 1
    assert hooks == ["restored"]
    assert dump(target) == dump(source)
    assert target.applied_index == 4
    assert not (tmp_path / "w2" / "restore").exists()

    # The restored store carries on from the snapshot's index.
    machine = StateMachine(target)
    assert machine.apply_entry(4, create_version("zzz")) is None
    assert machine.apply_entry(5, create_version("c"))["version"] == 3  # type: ignore[index]


def test_snapshot_durable_serialize(tmp_path: Path) -> None:
    source = MemoryStore()
    _machine_with_state(source)
    path = tmp_path / "snapshot"
    SnapshotStore(source, tmp_path / "w1", durable=True).serialize(str(path), RAFT)
    target = MemoryStore()
    snapshots = SnapshotStore(target, tmp_path / "w2", durable=True)
    assert snapshots.deserialize(str(path)) == RAFT
    assert dump(target) == dump(source)


@pytest.mark.parametrize("ahead_by", [0, 5])
def test_snapshot_not_restored_when_store_is_not_behind(tmp_path: Path, ahead_by: int) -> None:
    source = MemoryStore()
    _machine_with_state(source)  # applied index 4
    path = tmp_path / "snapshot"
    SnapshotStore(source, tmp_path / "w1", durable=False).serialize(str(path), RAFT)

    target = MemoryStore()
    target.write([(b"mine", b"keep me")], 4 + ahead_by)
    before = dump(target)
    hooks: list[str] = []
    snapshots = SnapshotStore(
        target, tmp_path / "w2", durable=False, on_restore=lambda: hooks.append("restored")
    )
    assert snapshots.deserialize(str(path)) == RAFT
    assert snapshots.restored == 0
    assert hooks == []
    assert dump(target) == before


def test_snapshot_restored_when_store_is_behind(tmp_path: Path) -> None:
    source = MemoryStore()
    _machine_with_state(source)
    path = tmp_path / "snapshot"
    SnapshotStore(source, tmp_path / "w1", durable=False).serialize(str(path), RAFT)

    target = MemoryStore()
    target.write([(b"stale", b"gone after restore")], 3)
    snapshots = SnapshotStore(target, tmp_path / "w2", durable=False)
    snapshots.deserialize(str(path))
    assert snapshots.restored == 1
    assert target.get(b"stale") is None
    assert dump(target) == dump(source)
    # Loading the same snapshot again is now a no-op.
    snapshots.deserialize(str(path))
    assert snapshots.restored == 1


def test_snapshot_round_trip_with_rocks(tmp_path: Path) -> None:
    source = RocksStore(tmp_path / "source")
    target = RocksStore(tmp_path / "target")
    try:
        _machine_with_state(source)
        path = tmp_path / "snapshot"
        (tmp_path / "w1").mkdir()
        (tmp_path / "w2").mkdir()
        SnapshotStore(source, tmp_path / "w1", durable=False).serialize(str(path), RAFT)
        snapshots = SnapshotStore(target, tmp_path / "w2", durable=False)
        raft: Any = snapshots.deserialize(str(path))
        assert raft == RAFT
        assert snapshots.restored == 1
        assert dump(target) == dump(source)
        assert target.digest() == source.digest()
        assert target.applied_index == 4
    finally:
        source.close()
        target.close()
