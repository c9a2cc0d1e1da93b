"""Read use-cases, answered from this node's store.

Reads are served locally (etcd's "serializable" reads): a follower may lag the leader
by the replication delay, but a node always answers from a state it applied, and a
write acknowledged by a node is visible on that node's next read.

`fetch` is the hot path. Versions and releases are immutable once written, so their
decoded forms are cached by (config, incarnation, number), and the decoded config
record is cached until an applied event touches it (`service.cache`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from conflux_node.model import keys
from conflux_node.model.apply import Event
from conflux_node.model.entities import ClientIdentity, ConfigMeta, Format, Release, VersionRecord
from conflux_node.model.errors import ConfigNotFound, ReleaseNotFound, VersionNotFound
from conflux_node.model.names import Coords
from conflux_node.model.rules import evaluate
from conflux_node.model.view import StateView, read_config, read_release, read_version
from conflux_node.service.cache import Lru, MetaCache

MAX_PAGE = 100
DEFAULT_PAGE = 20


@dataclass(frozen=True, slots=True)
class Served:
    version: int
    release_revision: int
    sha256: str
    format: Format
    content: str
    rule: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "release_revision": self.release_revision,
            "sha256": self.sha256,
            "format": self.format,
            "content": self.content,
            "rule": self.rule,
        }


class ConfigReads:
    def __init__(self, view: StateView, cache_size: int = 4096) -> None:
        self._view = view
        self.metas = MetaCache()
        self._versions: Lru[VersionRecord] = Lru(cache_size)
        self._releases: Lru[Release] = Lru(cache_size)

    def on_events(self, events: Sequence[Event]) -> None:
        """Invalidate what applied events changed (runs on the apply thread)."""
        self.metas.on_events(events)

    def on_restore(self) -> None:
        """The whole state was replaced by a snapshot (runs on the apply thread)."""
        self.metas.clear()

    def config(self, coords: Coords) -> ConfigMeta:
        meta = self.metas.get(coords, lambda c: read_config(self._view, c))
        if meta is None:
            raise ConfigNotFound(f"config {coords.path} does not exist", config=coords.path)
        return meta

    def describe(self, coords: Coords) -> dict[str, Any]:
        meta = self.config(coords)
        latest = read_version(self._view, coords, meta.latest_version)
        release = read_release(self._view, coords, meta.release_revision)
        return {
            **meta.to_json(),
            "latest": latest.summary() if latest else None,
            "release": release.to_json() if release else None,
        }

    def version(self, coords: Coords, number: int, incarnation: int | None = None) -> VersionRecord:
        if incarnation is None:
            incarnation = self.config(coords).incarnation
        key = (coords, incarnation, number)
        record: VersionRecord | None = self._versions.get(key)
        if record is None:
            record = read_version(self._view, coords, number)
            if record is None:
                self.config(coords)
                raise VersionNotFound(
                    f"version {number} of {coords.path} does not exist", version=number
                )
            self._versions.put(key, record)
        return record

    def release(self, coords: Coords, revision: int | None = None) -> Release:
        meta = self.config(coords)
        return self._release_at(meta, meta.release_revision if revision is None else revision)

    def _release_at(self, meta: ConfigMeta, revision: int) -> Release:
        key = (meta.coords, meta.incarnation, revision)
        release: Release | None = self._releases.get(key)
        if release is None:
            release = read_release(self._view, meta.coords, revision)
            if release is None:
                which = f"revision {revision}" if revision else "release yet"
                path = meta.coords.path
                raise ReleaseNotFound(f"{path} has no {which}", config=path, revision=revision)
            self._releases.put(key, release)
        return release

    def configs_page(
        self, tenant: str, app: str, env: str, limit: int | None, after: str | None
    ) -> dict[str, Any]:
        """Configs of one tenant/app/env by name (Apollo's namespaces of an app)."""
        size = limit or DEFAULT_PAGE
        items: list[Mapping[str, Any]] = []
        prefix = keys.configs_prefix(tenant, app, env)
        for key, raw in self._view.scan(prefix):
            name = key[len(prefix) :].decode()
            if after is not None and name <= after:
                continue
            if len(items) == size:
                return {"items": items, "next": items[-1]["name"]}
            items.append(_config_summary(raw))
        return {"items": items, "next": None}

    def versions_page(self, coords: Coords, limit: int | None, after: int | None) -> dict[str, Any]:
        self.config(coords)
        return self._page(keys.versions_prefix(coords), limit, after, _version_summary)

    def releases_page(self, coords: Coords, limit: int | None, after: int | None) -> dict[str, Any]:
        self.config(coords)
        return self._page(keys.releases_prefix(coords), limit, after, _release_json)

    def _page(
        self, prefix: bytes, limit: int | None, after: int | None, render: Any
    ) -> dict[str, Any]:
        """Newest first; `after` is the cursor from the previous page's `next`."""
        size = limit or DEFAULT_PAGE
        items: list[Mapping[str, Any]] = []
        number = 0
        for key, raw in self._view.scan(prefix, reverse=True):
            if after is not None and keys.number_of(key) >= after:
                continue
            if len(items) == size:
                return {"items": items, "next": number}
            items.append(render(raw))
            number = keys.number_of(key)
        return {"items": items, "next": None}

    def fetch(self, coords: Coords, client: ClientIdentity) -> Served:
        meta = self.config(coords)
        release = self._release_at(meta, meta.release_revision)
        selection = evaluate(release.spec, client, coords.path)
        record = self.version(coords, selection.version, meta.incarnation)
        return Served(
            version=record.version,
            release_revision=release.revision,
            sha256=record.sha256,
            format=meta.spec.format,
            content=record.content,
            rule=selection.rule,
        )


def _config_summary(raw: bytes) -> Mapping[str, Any]:
    meta = ConfigMeta.from_json(_loads(raw))
    return {
        "name": meta.coords.name,
        "format": meta.spec.format,
        "labels": dict(meta.spec.labels),
        "latest_version": meta.latest_version,
        "release_revision": meta.release_revision,
        "updated_at": meta.updated_at,
    }


def _version_summary(raw: bytes) -> Mapping[str, Any]:
    return VersionRecord.from_json(_loads(raw)).summary()


def _release_json(raw: bytes) -> Mapping[str, Any]:
    return Release.from_json(_loads(raw)).to_json()


def _loads(raw: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(raw)
    return value
