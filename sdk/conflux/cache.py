"""The client's two caches: the in-memory one every read uses, and the on-disk fallback.

Why two: reads must never wait on the network, so they see only the in-memory cache,
which the watcher and the poller update. A service must also start while the center is
down, so every change is written to disk too, one file per config
(`<cache_dir>/<tenant>/<app>/<env>/<name>.json`), and read back at start when no node
answers.

A disk write is atomic (temporary file, fsync, `os.replace`, fsync of the folder): a
crash leaves the old file or the new one, never a torn one. Each file carries a checksum
of its content, and a file that fails it is ignored. Files are created mode 0600: a
config may hold secrets.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from conflux.snapshot import Snapshot

log = logging.getLogger("conflux.cache")
FILE_VERSION = 1


class MemoryCache:
    """Name -> current snapshot (None: known, but nothing served). Thread-safe.

    Each name has a generation, bumped at every change, so a slow fetch can tell that
    something newer landed while it was in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot | None] = {}
        self._generations: dict[str, int] = {}

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._snapshots

    def get(self, name: str) -> Snapshot | None:
        with self._lock:
            return self._snapshots.get(name)

    def generation(self, name: str) -> int:
        with self._lock:
            return self._generations.get(name, 0)

    def put(self, name: str, snapshot: Snapshot | None) -> Snapshot | None:
        """Store `snapshot` as current; return the one it replaced."""
        with self._lock:
            old = self._snapshots.get(name)
            self._snapshots[name] = snapshot
            self._generations[name] = self._generations.get(name, 0) + 1
            return old

    def held(self) -> dict[str, str]:
        """Name -> sha256 held ("" for nothing), for every known name."""
        with self._lock:
            return {n: "" if s is None else s.sha256 for n, s in self._snapshots.items()}

    def names(self) -> list[str]:
        with self._lock:
            return list(self._snapshots)


def _digest(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves either the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; some platforms cannot open a folder, so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class DiskCache:
    """One JSON file per config under `root/<tenant>/<app>/<env>/`."""

    def __init__(self, root: str | os.PathLike[str], tenant: str, app: str, env: str) -> None:
        self.folder = Path(root) / tenant / app / env
        self.tenant, self.app, self.env = tenant, app, env

    def path(self, name: str) -> Path:
        return self.folder / f"{name}.json"

    def save(self, snapshot: Snapshot) -> None:
        record = {
            "file_version": FILE_VERSION,
            "tenant": self.tenant,
            "app": self.app,
            "env": self.env,
            "name": snapshot.name,
            "version": snapshot.version,
            "release_revision": snapshot.release_revision,
            "sha256": snapshot.sha256,
            "format": snapshot.format,
            "content": snapshot.content,
            "rule": snapshot.rule,
            "content_digest": _digest(snapshot.content),
            "saved_at": time.time(),
        }
        atomic_write(self.path(snapshot.name), json.dumps(record, indent=1).encode("utf-8"))

    def remove(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(name).unlink()
            _fsync_dir(self.folder)

    def load(self, name: str) -> Snapshot | None:
        """The cached snapshot, or None when there is none or it is unreadable."""
        path = self.path(name)
        try:
            record: Any = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable cache file %s: %s", path, exc)
            return None
        try:
            snapshot = Snapshot(
                name=name,
                version=int(record["version"]),
                release_revision=int(record["release_revision"]),
                sha256=str(record["sha256"]),
                format=str(record["format"]),
                content=str(record["content"]),
                rule=record.get("rule"),
            )
            intact = record["content_digest"] == _digest(snapshot.content)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("ignoring malformed cache file %s: %s", path, exc)
            return None
        if not intact:
            log.warning("ignoring cache file %s: its checksum does not match", path)
            return None
        return snapshot
