"""Commands: the only things that change state, as they travel through the Raft log.

A command is a frozen dataclass. The proposing node fills in everything that is not
deterministic (time, author, hashes), so `apply` can stay a pure function. On the wire
a command is compact JSON with an `op` field naming its type.

Identity commands carry only strings, booleans and (for RecordDenial) a JSON object,
so they travel as their own fields, flat; config commands nest their specs. Secrets
never travel: a password or API-key secret is hashed by the proposer first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
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


ConfigCommand = PutConfig | DeleteConfig | CreateVersion | SetRelease


@dataclass(frozen=True, slots=True)
class CreateTenant:
    name: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class DeleteTenant:
    """Refused while configs exist under the tenant; takes its bindings and keys along."""

    name: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class CreateUser:
    username: str
    password_hash: str  # argon2id, hashed by the proposer
    system_admin: bool
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class DeleteUser:
    """Removes the user and every binding of it, in every tenant."""

    username: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class SetPassword:
    username: str
    password_hash: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class BindRole:
    tenant: str
    user: str
    role: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class UnbindRole:
    tenant: str
    user: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class CreateApiKey:
    id: str
    tenant: str
    name: str
    role: str
    secret_hash: str
    expires_at: str | None
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class RevokeApiKey:
    """Sets `revoked_at = now`. `tenant` must be the key's own tenant: a key of another
    tenant is reported as not found, so a tenant admin cannot probe other tenants."""

    id: str
    tenant: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class Bootstrap:
    """The first administrator and the token-signing key; a no-op once any user exists."""

    admin_username: str
    admin_password_hash: str
    jwt_key: str
    actor: str
    now: str


@dataclass(frozen=True, slots=True)
class RecordDenial:
    """Only an audit record: the edge refused a request (403) and says so."""

    actor: str
    action: str
    target: str
    tenant: str | None
    now: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SetAuditRetention:
    """How long the audit log keeps records; None lifts that limit (see audit_retention)."""

    keep_last: int | None
    keep_days: int | None
    actor: str
    now: str


IdentityCommand = (
    CreateTenant
    | DeleteTenant
    | CreateUser
    | DeleteUser
    | SetPassword
    | BindRole
    | UnbindRole
    | CreateApiKey
    | RevokeApiKey
    | Bootstrap
    | RecordDenial
)
SystemCommand = SetAuditRetention
Command = ConfigCommand | IdentityCommand | SystemCommand

_OPS: dict[type[Any], str] = {
    PutConfig: "put_config",
    DeleteConfig: "delete_config",
    CreateVersion: "create_version",
    SetRelease: "set_release",
    CreateTenant: "create_tenant",
    DeleteTenant: "delete_tenant",
    CreateUser: "create_user",
    DeleteUser: "delete_user",
    SetPassword: "set_password",
    BindRole: "bind_role",
    UnbindRole: "unbind_role",
    CreateApiKey: "create_api_key",
    RevokeApiKey: "revoke_api_key",
    Bootstrap: "bootstrap",
    RecordDenial: "record_denial",
    SetAuditRetention: "set_audit_retention",
}
_CONFIG_TYPES = (PutConfig, DeleteConfig, CreateVersion, SetRelease)
_FLAT: dict[str, type[IdentityCommand | SystemCommand]] = {
    op: cls for cls, op in _OPS.items() if cls not in _CONFIG_TYPES
}


def op_of(command: Command) -> str:
    """The command's wire name, which is also its audit action."""
    return _OPS[type(command)]


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def encode(command: Command) -> bytes:
    if not isinstance(command, _CONFIG_TYPES):
        return _dumps({"op": op_of(command), **asdict(command)})
    body: dict[str, Any] = {"op": op_of(command), "coords": command.coords.to_json()}
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
    return _dumps(body)


def decode(payload: bytes) -> Command:
    body: dict[str, Any] = json.loads(payload)
    op = body.pop("op")
    if op not in _OPS.values():
        raise ValueError(f"unknown command op {op!r}")
    if op in _FLAT:
        return _FLAT[op](**body)
    coords = Coords(**body["coords"])
    actor, now = body["actor"], body["now"]
    match op:
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
    raise ValueError(f"unknown command op {op!r}")
