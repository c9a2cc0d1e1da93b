"""The in-memory cache's generations and the on-disk cache's atomic, checked files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from conflux.cache import DiskCache, MemoryCache, atomic_write
from conflux.snapshot import Snapshot

from .conftest import sha


def snap(content: str, version: int = 1) -> Snapshot:
    return Snapshot("db", version, 2, sha(content), "json", content, rule="canary")


def test_memory_cache_generations_and_held() -> None:
    memory = MemoryCache()
    assert "db" not in memory and memory.generation("db") == 0
    memory.put("db", None)
    assert "db" in memory and memory.held() == {"db": ""}
    assert memory.put("db", snap("{}")) is None
    assert memory.generation("db") == 2
    assert memory.held() == {"db": sha("{}")}


def test_disk_round_trip_and_layout(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path, "acme", "shop", "prod")
    assert disk.load("db") is None
    disk.save(snap('{"a": 1}'))
    path = tmp_path / "acme" / "shop" / "prod" / "db.json"
    assert disk.path("db") == path and path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = disk.load("db")
    assert loaded == snap('{"a": 1}') and loaded is not None and loaded.rule == "canary"
    disk.save(snap('{"a": 2}', 2))
    assert disk.load("db") == snap('{"a": 2}', 2)
    assert os.listdir(path.parent) == ["db.json"]  # no temporary files left behind
    disk.remove("db")
    disk.remove("db")
    assert disk.load("db") is None


def test_a_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    disk = DiskCache(tmp_path, "acme", "shop", "prod")
    disk.save(snap('{"a": 1}'))

    def crash(src: str, dst: str) -> None:
        raise OSError("disk yanked")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk yanked"):
        disk.save(snap('{"a": 2}', 2))
    monkeypatch.undo()
    assert disk.load("db") == snap('{"a": 1}')
    assert os.listdir(disk.folder) == ["db.json"]


def test_atomic_write_fsyncs_before_replacing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync")
        real_fsync(fd)

    def replace(src: str, dst: str) -> None:
        calls.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "f.json", b"data")
    assert calls[:2] == ["fsync", "replace"]
    assert (tmp_path / "f.json").read_bytes() == b"data"


def test_corrupt_or_tampered_files_are_ignored(tmp_path: Path) -> None:
    disk = DiskCache(tmp_path, "acme", "shop", "prod")
    disk.save(snap('{"a": 1}'))
    record = json.loads(disk.path("db").read_text())
    record["content"] = '{"a": 666}'
    disk.path("db").write_text(json.dumps(record))
    assert disk.load("db") is None
    disk.path("db").write_text("{not json")
    assert disk.load("db") is None
    disk.path("db").write_text(json.dumps({"version": 1}))
    assert disk.load("db") is None
