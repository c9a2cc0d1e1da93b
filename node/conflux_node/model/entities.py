"""Entities as stored in the replicated state, with their JSON forms.

Stored values are compact JSON. Each entity converts to and from a plain dict, so the
storage layer never needs to know the shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from conflux_node.model.names import Coords

Format = Literal["json", "yaml", "toml", "properties", "text"]
FORMATS: tuple[Format, ...] = ("json", "yaml", "toml", "properties", "text")
STRUCTURED: frozenset[str] = frozenset({"json", "yaml", "toml"})


@dataclass(frozen=True, slots=True)
class Retention:
    keep_last: int | None = None
    keep_days: int | None = None

    def to_json(self) -> dict[str, int | None]:
        return {"keep_last": self.keep_last, "keep_days": self.keep_days}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Retention:
        return cls(data.get("keep_last"), data.get("keep_days"))


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    """What a client declares for a config (the body of `PUT C`)."""

    format: Format
    schema: Mapping[str, Any] | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    retention: Retention = field(default_factory=Retention)
    encrypted: bool = False
    # The namespace lock: whoever authored a version may not be the one to release it.
    separate_releaser: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "schema": self.schema,
            "labels": dict(self.labels),
            "retention": self.retention.to_json(),
            "encrypted": self.encrypted,
            "separate_releaser": self.separate_releaser,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigSpec:
        return cls(
            format=data["format"],
            schema=data.get("schema"),
            labels=dict(data.get("labels") or {}),
            retention=Retention.from_json(data.get("retention") or {}),
            encrypted=bool(data.get("encrypted", False)),
            separate_releaser=bool(data.get("separate_releaser", False)),
        )


@dataclass(frozen=True, slots=True)
class ConfigMeta:
    coords: Coords
    spec: ConfigSpec
    schema_sha: str
    created_at: str
    updated_at: str
    latest_version: int = 0
    release_revision: int = 0
    incarnation: int = 0  # distinguishes a config from an earlier one of the same name

    def to_json(self) -> dict[str, Any]:
        return {
            **self.coords.to_json(),
            **self.spec.to_json(),
            "schema_sha": self.schema_sha,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "latest_version": self.latest_version,
            "release_revision": self.release_revision,
            "incarnation": self.incarnation,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConfigMeta:
        return cls(
            coords=Coords(data["tenant"], data["app"], data["env"], data["name"]),
            spec=ConfigSpec.from_json(data),
            schema_sha=data["schema_sha"],
            created_at=data["created_at"],
            updated_at=data["updated_at"],
            latest_version=data["latest_version"],
            release_revision=data["release_revision"],
            incarnation=data.get("incarnation", 0),
        )


@dataclass(frozen=True, slots=True)
class VersionRecord:
    version: int
    sha256: str
    content: str
    author: str
    message: str
    created_at: str

    def summary(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "sha256": self.sha256,
            "author": self.author,
            "message": self.message,
            "created_at": self.created_at,
            "size": len(self.content.encode()),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self.summary(), "content": self.content}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VersionRecord:
        return cls(
            version=data["version"],
            sha256=data["sha256"],
            content=data["content"],
            author=data["author"],
            message=data["message"],
            created_at=data["created_at"],
        )


@dataclass(frozen=True, slots=True)
class Match:
    labels: Mapping[str, str] = field(default_factory=dict)
    ip_cidrs: tuple[str, ...] = ()
    client_ids: tuple[str, ...] = ()
    percentage: float | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.labels:
            out["labels"] = dict(self.labels)
        if self.ip_cidrs:
            out["ip_cidrs"] = list(self.ip_cidrs)
        if self.client_ids:
            out["client_ids"] = list(self.client_ids)
        if self.percentage is not None:
            out["percentage"] = self.percentage
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Match:
        return cls(
            labels=dict(data.get("labels") or {}),
            ip_cidrs=tuple(data.get("ip_cidrs") or ()),
            client_ids=tuple(data.get("client_ids") or ()),
            percentage=data.get("percentage"),
        )


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    match: Match
    version: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "match": self.match.to_json(), "version": self.version}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Rule:
        return cls(data["name"], Match.from_json(data.get("match") or {}), data["version"])


@dataclass(frozen=True, slots=True)
class ReleaseSpec:
    """What a client declares for a release (the body of `PUT C/release`)."""

    rules: tuple[Rule, ...]
    default_version: int
    message: str = ""

    def versions(self) -> frozenset[int]:
        return frozenset({self.default_version, *(r.version for r in self.rules)})

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": [r.to_json() for r in self.rules],
            "default_version": self.default_version,
            "message": self.message,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ReleaseSpec:
        return cls(
            rules=tuple(Rule.from_json(r) for r in data.get("rules") or ()),
            default_version=data["default_version"],
            message=data.get("message", ""),
        )


@dataclass(frozen=True, slots=True)
class Release:
    revision: int
    spec: ReleaseSpec
    author: str
    created_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            **self.spec.to_json(),
            "author": self.author,
            "created_at": self.created_at,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Release:
        return cls(
            revision=data["revision"],
            spec=ReleaseSpec.from_json(data),
            author=data["author"],
            created_at=data["created_at"],
        )


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who is fetching: the id and labels the client sends, the IP from the connection."""

    client_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    ip: str | None = None
