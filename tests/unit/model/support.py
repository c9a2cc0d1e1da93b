"""Shared fixtures for the identity and audit tests: a store harness and sample commands."""

from __future__ import annotations

from conflux_node.model.apply import Effects, apply
from conflux_node.model.commands import (
    BindRole,
    Bootstrap,
    Command,
    CreateApiKey,
    CreateTenant,
    CreateUser,
    CreateVersion,
    PutConfig,
)
from conflux_node.model.entities import ConfigSpec
from conflux_node.model.names import Coords
from conflux_node.storage.memory import MemoryStore

T0 = "2026-01-01T00:00:00.000+00:00"
T1 = "2026-01-02T00:00:00.000+00:00"
T2 = "2026-01-03T00:00:00.000+00:00"
ADMIN_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YWRtaW4tc2FsdA$ADMINHASHVALUE"
ALICE_HASH = "$argon2id$v=19$m=65536,t=3,p=4$YWxpY2Utc2FsdA$ALICEHASHVALUE"
NEW_HASH = "$argon2id$v=19$m=65536,t=3,p=4$bmV3LXNhbHQ$NEWHASHVALUE"
SECRET_HASH = "sha256:5ec4e7a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6a7b8c9d0e1f2a3"
JWT_KEY = "jwt-signing-key-0123456789abcdef0123456789abcdef"
C = Coords("acme", "shop", "prod", "db")


class Harness:
    """A MemoryStore plus a Raft-like index: every command is applied then written."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.index = 0

    def run(self, command: Command) -> Effects:
        effects = apply(self.store, command)
        self.index += 1
        self.store.write(effects.writes, self.index)
        return effects

    def dump(self) -> list[tuple[bytes, bytes]]:
        return list(self.store.scan(b""))


def tenant(name: str = "acme", *, actor: str = "root", now: str = T0) -> CreateTenant:
    return CreateTenant(name, actor, now)


def user(
    name: str = "alice", *, admin: bool = False, actor: str = "root", now: str = T0
) -> CreateUser:
    return CreateUser(name, ALICE_HASH, admin, actor, now)


def bind(tenant: str = "acme", name: str = "alice", role: str = "editor") -> BindRole:
    return BindRole(tenant, name, role, "root", T0)


def api_key(
    key_id: str = "k1",
    tenant: str = "acme",
    name: str = "svc",
    *,
    role: str = "client",
    expires_at: str | None = None,
    now: str = T0,
) -> CreateApiKey:
    return CreateApiKey(key_id, tenant, name, role, SECRET_HASH, expires_at, "root", now)


def bootstrap(name: str = "admin", *, jwt_key: str = JWT_KEY, now: str = T0) -> Bootstrap:
    return Bootstrap(name, ADMIN_HASH, jwt_key, "system", now)


def put_config(coords: Coords = C, *, now: str = T0) -> PutConfig:
    return PutConfig(coords, ConfigSpec(format="json"), "ss", "alice", now)


def create_version(content: str, coords: Coords = C, *, now: str = T0) -> CreateVersion:
    return CreateVersion(coords, content, f"sha-{content}", "msg", "ss", "bob", now)
