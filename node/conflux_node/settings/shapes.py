"""The shape of a node's settings: frozen dataclasses, and the one error loading can raise.

Why a module of its own: these types are what the rest of the node sees. `app.py` and the tests
build and read `Settings` without caring where a value came from, so the types stay free of
parsing, of sources and of the process. Everything here is frozen: settings are read once, at
start, and no part of a running node may change them under another part's feet.

The defaults given here are the lowest layer of the loader (``defaults < TOML file < CONFLUX_*
environment variables < command-line flags``): `sources.defaults()` reads them from these
dataclasses, so a default is written in one place only. A field without a default (`node_id`,
`members`, `raft.address`, `data_dir`) is either required or derived from the others by the
loader.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass, field

__all__ = [
    "AuthSettings",
    "HttpSettings",
    "LimitSettings",
    "Member",
    "RaftSettings",
    "Settings",
    "SettingsError",
    "TlsSettings",
]

# The bounds of a valid value, which `checks` and the loader enforce.
MAX_CONTENT_BYTES_LIMIT = 64 * 1024 * 1024
CLUSTER_SIZES = (1, 3, 5, 7)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MIN_TOKEN_TTL = 60
MAX_TOKEN_TTL = 7 * 24 * 3600
MAX_ADMIN_PASSWORD_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Member:
    """One voter of the Raft group: its id, Raft "host:port" and base HTTP URL (no trailing /)."""

    id: str
    raft: str
    http: str


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Where this node's HTTP API listens (the gRPC watch stream binds the same host)."""

    host: str = "127.0.0.1"
    port: int = 7081


@dataclass(frozen=True, slots=True)
class RaftSettings:
    """This node's part in the Raft group; durations in seconds."""

    address: str  # this node's Raft "host:port"; defaults to its member entry's raft address
    fsync: bool = True
    election_min: float = 0.4
    election_max: float = 1.4
    compaction_min_entries: int = 50000
    compaction_min_seconds: int = 300
    secret: str | None = field(default=None, repr=False)  # encrypts Raft traffic when set


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """Bounds on what one request may cost: content size in bytes, waiting time in seconds."""

    max_content_bytes: int = 1048576
    request_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class AuthSettings:
    """Identity: the first admin's password and how long a login token lives (seconds).

    `admin_password` is used once, when the cluster bootstraps; None makes the leader
    generate one and log it once. It is kept out of `repr` so settings never print it.
    `metrics_open` false makes /metrics need a credential, like every API route.
    `token_key`, when set (the same on every node, e.g. from a Kubernetes Secret), signs
    and verifies login tokens instead of the key made at bootstrap; replacing it is how
    tokens are rotated. `previous_token_key` is the key it replaced: tokens signed with
    it are still verified (never issued) until they expire.
    """

    admin_password: str | None = field(default=None, repr=False)
    token_ttl: int = 3600
    metrics_open: bool = True
    token_key: str | None = field(default=None, repr=False)
    previous_token_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class TlsSettings:
    """TLS for the HTTP API and the gRPC watch stream; paths to PEM files, all optional.

    `cert_file` and `key_file` come together and turn TLS on. `client_ca_file` makes both
    servers require a client certificate signed by it. `ca_file` is what node-to-node HTTPS
    calls trust; None falls back to `client_ca_file`, then to the system's trust store.
    """

    cert_file: str | None = None
    key_file: str | None = None
    client_ca_file: str | None = None
    ca_file: str | None = None

    @property
    def enabled(self) -> bool:
        """True when this node serves HTTPS and gRPC over TLS."""
        return self.cert_file is not None and self.key_file is not None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a node needs to start, already checked and merged from every source."""

    node_id: str
    data_dir: pathlib.Path
    http: HttpSettings
    raft: RaftSettings
    members: tuple[Member, ...]
    limits: LimitSettings
    log_level: str = "INFO"
    grpc_port: int | None = None
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls: TlsSettings = field(default_factory=TlsSettings)

    @property
    def self_member(self) -> Member:
        """This node's own entry in `members`."""
        for member in self.members:
            if member.id == self.node_id:
                return member
        raise LookupError(f"node {self.node_id!r} is not one of the members")

    @property
    def peers(self) -> tuple[Member, ...]:
        """Every member except this node, in configured order."""
        return tuple(member for member in self.members if member.id != self.node_id)


class SettingsError(Exception):
    """A setting is missing or invalid; the message is the exact text to show the operator."""
