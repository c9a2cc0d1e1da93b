"""Commands: the only things that change state, as they travel through the Raft log.

A command is a frozen dataclass. The proposing node fills in everything that is not
deterministic (time, author, hashes), so `apply` can stay a pure function. On the wire
a command is compact JSON with an `op` field naming its type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conflux_node.model.entities import ConfigSpec, ReleaseSpec
from conflux_node.model.names import Coords


@dataclass(frozen=True, slots=True)
class PutConfig:
    coords: Coords
    spec: ConfigSpec
    schema_sha: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class DeleteConfig:
    coords: Coords
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class CreateVersion:
    coords: Coords
    content: str
    sha256: str
    message: str
    schema_sha: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class SetRelease:
    coords: Coords
    spec: ReleaseSpec
    expected_revision: int | None
    actor: str
    now: str


Command = PutConfig | DeleteConfig | CreateVersion | SetRelease

_OPS: dict[type[Any], str] = {
    PutConfig: "put_config",
    DeleteConfig: "delete_config",
    CreateVersion: "create_version",
    SetRelease: "set_release",
}


def encode(command: Command) -> bytes:
    body: dict[str, Any] = {"op": _OPS[type(command)], "coords": command.coords.to_json()}
    match command:
        case PutConfig(spec=spec, schema_sha=sha):
            body.update(spec=spec.to_json(), schema_sha=sha)
        case CreateVersion():
            body.update(
                content=command.content,
                sha256=command.sha256,
                message=command.message,
                schema_sha=command.schema_sha,
            )
        case SetRelease(spec=spec, expected_revision=rev):
            body.update(spec=spec.to_json(), expected_revision=rev)
        case DeleteConfig():
            pass
    body.update(actor=command.actor, now=command.now)
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def decode(payload: bytes) -> Command:
    body: Mapping[str, Any] = json.loads(payload)
    coords = Coords(**body["coords"])
    actor, now = body["actor"], body["now"]
    match body["op"]:
        case "put_config":
            spec = ConfigSpec.from_json(body["spec"])
            return PutConfig(coords, spec, body["schema_sha"], actor, now)
        case "delete_config":
            return DeleteConfig(coords, actor, now)
        case "create_version":
            return CreateVersion(
                coords,
                body["content"],
                body["sha256"],
                body["message"],
                body["schema_sha"],
                actor,
                now,
            )
        case "set_release":
            release = ReleaseSpec.from_json(body["spec"])
            return SetRelease(coords, release, body["expected_revision"], actor, now)
    raise ValueError(f"unknown command op {body['op']!r}")
