"""Where setting values come from: defaults, a TOML file, CONFLUX_* variables and flags.

Why a module of its own: every setting is declared once, in `_FIELDS`, with its TOML key, its
CONFLUX_* variable, its flag and its check, so the file reader, the environment reader and the
command-line parser cannot disagree about what exists. Each source becomes a `Layer`: a dict from
dotted key to the value it gave, already converted and checked, with the raw form and the source
kept for messages. Merging the layers and the rules that tie settings together are the loader's.

Every value a layer gives is checked, even one a higher layer overrides. Unknown CONFLUX_*
variables are ignored because the SDK and the CLI share the prefix; unknown keys in the file are
errors because there they can only be typos. ``members`` is one value: a layer that gives it
replaces the whole list of the layers below.

Nothing here reads the process: `env_layer()` takes a mapping and `flag_layer()` the parsed
arguments, so tests pass plain dicts and lists.
"""

from __future__ import annotations

import argparse
import pathlib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any

from conflux_node.settings.checks import (
    Kind,
    Problem,
    accept,
    check_at_least,
    check_between,
    check_file,
    check_host,
    check_host_port,
    check_log_level,
    check_node_id,
    check_path,
    check_port,
    check_positive,
    check_raft_secret,
    check_secret_text,
    check_token_key,
    check_url,
    convert,
    invalid,
    invalid_secret,
    to_str,
)
from conflux_node.settings.shapes import (
    MAX_ADMIN_PASSWORD_CHARS,
    MAX_CONTENT_BYTES_LIMIT,
    MAX_TOKEN_TTL,
    MIN_TOKEN_TTL,
    AuthSettings,
    HttpSettings,
    LimitSettings,
    Member,
    RaftSettings,
    Settings,
    SettingsError,
    TlsSettings,
)

MEMBER_SPEC = "ID@RAFTHOST:PORT@HTTPURL"


@dataclass(frozen=True, slots=True)
class Given:
    """A value as one layer gave it: converted and checked, plus the raw form for messages."""

    value: object
    raw: object
    source: str


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # dotted name, as in messages and the TOML layout
    kind: Kind
    check: Callable[[Any], object]
    env: str
    flag: str | None  # None: no value-taking flag (fsync has --no-fsync)
    help: str
    metavar: str = "VALUE"
    secret: bool = False  # error messages never quote the value

    @property
    def dest(self) -> str:
        return self.key.replace(".", "_")

    def given(self, raw: object, source: str, *, text: bool) -> Given:
        try:
            value = self.check(convert(self.kind, raw, text))
        except Problem as problem:
            if self.secret:
                raise invalid_secret(self.key, str(problem), source) from None
            raise invalid(self.key, str(problem), raw, source) from None
        return Given(value, raw, source)


_FIELDS: tuple[_Field, ...] = (
    _Field("node_id", "str", check_node_id, "CONFLUX_NODE_ID", "--node-id", "this node's id", "ID"),
    _Field(
        "data_dir",
        "str",
        check_path,
        "CONFLUX_DATA_DIR",
        "--data-dir",
        "data directory (default .conflux/NODE_ID)",
        "PATH",
    ),
    _Field(
        "log_level",
        "str",
        check_log_level,
        "CONFLUX_LOG_LEVEL",
        "--log-level",
        "DEBUG, INFO, WARNING or ERROR",
        "LEVEL",
    ),
    _Field("grpc_port", "int", check_port, "CONFLUX_GRPC_PORT", "--grpc-port", "gRPC port", "PORT"),
    _Field(
        "http.host",
        "str",
        check_host,
        "CONFLUX_HTTP_HOST",
        "--http-host",
        "HTTP bind host",
        "HOST",
    ),
    _Field("http.port", "int", check_port, "CONFLUX_HTTP_PORT", "--http-port", "HTTP port", "PORT"),
    _Field(
        "raft.address",
        "str",
        check_host_port,
        "CONFLUX_RAFT_ADDRESS",
        "--raft-address",
        "Raft HOST:PORT to bind (default: this node's member entry)",
        "HOST:PORT",
    ),
    _Field("raft.fsync", "bool", accept, "CONFLUX_RAFT_FSYNC", None, ""),
    _Field(
        "raft.secret",
        "str",
        check_raft_secret,
        "CONFLUX_RAFT_SECRET",
        "--raft-secret",
        "shared secret that encrypts Raft traffic between the nodes (the same on every "
        "member); prefer the variable, flags show in the process list",
        "SECRET",
        secret=True,
    ),
    _Field(
        "raft.election_min",
        "float",
        check_positive,
        "CONFLUX_RAFT_ELECTION_MIN",
        "--election-min",
        "minimum election timeout in seconds",
        "SECONDS",
    ),
    _Field(
        "raft.election_max",
        "float",
        check_positive,
        "CONFLUX_RAFT_ELECTION_MAX",
        "--election-max",
        "maximum election timeout in seconds",
        "SECONDS",
    ),
    _Field(
        "raft.compaction_min_entries",
        "int",
        check_at_least(1),
        "CONFLUX_RAFT_COMPACTION_MIN_ENTRIES",
        "--compaction-min-entries",
        "log entries before a snapshot is taken",
        "N",
    ),
    _Field(
        "raft.compaction_min_seconds",
        "int",
        check_at_least(0),
        "CONFLUX_RAFT_COMPACTION_MIN_SECONDS",
        "--compaction-min-seconds",
        "seconds between snapshots",
        "SECONDS",
    ),
    _Field(
        "limits.max_content_bytes",
        "int",
        check_between(1, MAX_CONTENT_BYTES_LIMIT),
        "CONFLUX_MAX_CONTENT_BYTES",
        "--max-content-bytes",
        "largest accepted config content in bytes",
        "BYTES",
    ),
    _Field(
        "limits.request_timeout",
        "float",
        check_positive,
        "CONFLUX_REQUEST_TIMEOUT",
        "--request-timeout",
        "seconds a request waits before timing out",
        "SECONDS",
    ),
    _Field(
        "auth.admin_password",
        "str",
        check_secret_text(MAX_ADMIN_PASSWORD_CHARS),
        "CONFLUX_ADMIN_PASSWORD",
        "--admin-password",
        "password of the first admin, used once at bootstrap (default: generated and logged "
        "once); prefer the variable, flags show in the process list",
        "PASSWORD",
        secret=True,
    ),
    _Field(
        "auth.token_ttl",
        "int",
        check_between(MIN_TOKEN_TTL, MAX_TOKEN_TTL),
        "CONFLUX_TOKEN_TTL",
        "--token-ttl",
        "seconds a login token stays valid",
        "SECONDS",
    ),
    _Field(
        "auth.token_key",
        "str",
        check_token_key,
        "CONFLUX_TOKEN_KEY",
        None,
        "key that signs login tokens, the same on every node (default: a random key "
        "made at bootstrap and kept in the replicated state); changing it ends every token",
        "KEY",
        secret=True,
    ),
    _Field(
        "auth.previous_token_key",
        "str",
        check_token_key,
        "CONFLUX_PREVIOUS_TOKEN_KEY",
        None,
        "the key auth.token_key replaced: tokens it signed are still accepted (never "
        "issued) until they expire, so a rotation logs nobody out",
        "KEY",
        secret=True,
    ),
    _Field(
        "auth.metrics_open",
        "bool",
        accept,
        "CONFLUX_METRICS_OPEN",
        None,
        "false: /metrics needs a credential (TOML [auth] metrics_open or the variable)",
    ),
    _Field(
        "tls.cert_file",
        "str",
        check_file,
        "CONFLUX_TLS_CERT_FILE",
        "--tls-cert-file",
        "PEM certificate (chain) for HTTPS and gRPC; needs --tls-key-file",
        "PATH",
    ),
    _Field(
        "tls.key_file",
        "str",
        check_file,
        "CONFLUX_TLS_KEY_FILE",
        "--tls-key-file",
        "PEM private key of --tls-cert-file",
        "PATH",
    ),
    _Field(
        "tls.client_ca_file",
        "str",
        check_file,
        "CONFLUX_TLS_CLIENT_CA_FILE",
        "--tls-client-ca-file",
        "PEM CA certificates; clients must present a certificate signed by one",
        "PATH",
    ),
    _Field(
        "tls.ca_file",
        "str",
        check_file,
        "CONFLUX_TLS_CA_FILE",
        "--tls-ca-file",
        "PEM CA certificates trusted for calls to other nodes (default: --tls-client-ca-file, "
        "else the system's)",
        "PATH",
    ),
)
_BY_KEY = {field.key: field for field in _FIELDS}
_TABLES = ("http", "raft", "limits", "auth", "tls")
_SECRET_TABLES = ("auth",)
_MEMBER_KEYS = ("id", "raft", "http")

# --------------------------------------------------------------------------------------------
# Members.

Layer = dict[str, Given]


def _member(index: int, parts: Mapping[str, object], source: str) -> Member:
    checks: dict[str, Callable[[str], str]] = {
        "id": check_node_id,
        "raft": check_host_port,
        "http": check_url,
    }
    values: dict[str, str] = {}
    for name, check in checks.items():
        raw = parts[name]
        try:
            values[name] = check(to_str(raw, text=False))
        except Problem as problem:
            raise invalid(f"members[{index}].{name}", str(problem), raw, source) from None
    return Member(id=values["id"], raft=values["raft"], http=values["http"])


def _member_from_spec(index: int, spec: str, source: str) -> Member:
    """Parse "ID@RAFTHOST:PORT@HTTPURL"; the URL may itself contain '@'."""
    parts = spec.strip().split("@", 2)
    if len(parts) != 3:
        raise invalid(f"members[{index}]", f"must be {MEMBER_SPEC}", spec, source)
    return _member(index, dict(zip(_MEMBER_KEYS, parts, strict=True)), source)


def _members_from_file(raw: object, source: str) -> Given:
    if not isinstance(raw, list):
        raise invalid("members", "must be an array of tables ([[members]])", raw, source)
    members = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise invalid(f"members[{index}]", "must be a table", item, source)
        for name, value in item.items():
            if name not in _MEMBER_KEYS:
                raise invalid(f"members[{index}].{name}", "unknown key", value, source)
        for name in _MEMBER_KEYS:
            if name not in item:
                raise invalid(f"members[{index}]", f"missing key {name}", item, source)
        members.append(_member(index, item, source))
    return Given(tuple(members), raw, source)


# --------------------------------------------------------------------------------------------
# Layers.


def defaults() -> Layer:
    layer: Layer = {}
    sections: tuple[tuple[str, type[object]], ...] = (
        ("", Settings),
        ("http.", HttpSettings),
        ("raft.", RaftSettings),
        ("limits.", LimitSettings),
        ("auth.", AuthSettings),
        ("tls.", TlsSettings),
    )
    for prefix, cls in sections:
        for field in fields(cls):  # type: ignore[arg-type]
            if field.default is not MISSING and field.default is not None:
                layer[prefix + field.name] = Given(field.default, field.default, "default")
    return layer


def _unknown(table: str, key: str, raw: object, source: str) -> SettingsError:
    if table in _SECRET_TABLES:  # a misspelt password key must not print the password
        return invalid_secret(key, "unknown key", source)
    return invalid(key, "unknown key", raw, source)


def file_layer(path: str) -> Layer:
    source = f"file {path}"
    try:
        with pathlib.Path(path).open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise SettingsError(f"settings file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"invalid settings file {path}: {exc}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"invalid settings file {path}: not valid UTF-8") from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None

    layer: Layer = {}
    for name, raw in data.items():
        if name == "members":
            layer["members"] = _members_from_file(raw, source)
        elif name in _TABLES:
            if not isinstance(raw, dict):
                raise invalid(name, "must be a table", raw, source)
            for sub, sub_raw in raw.items():
                key = f"{name}.{sub}"
                if key not in _BY_KEY:
                    raise _unknown(name, key, sub_raw, source)
                layer[key] = _BY_KEY[key].given(sub_raw, source, text=False)
        elif name in _BY_KEY and "." not in name:
            layer[name] = _BY_KEY[name].given(raw, source, text=False)
        else:
            raise invalid(name, "unknown key", raw, source)
    return layer


def env_layer(environ: Mapping[str, str]) -> Layer:
    layer: Layer = {}
    for field in _FIELDS:
        if field.env in environ:
            layer[field.key] = field.given(environ[field.env], f"env {field.env}", text=True)
    if "CONFLUX_MEMBERS" in environ:
        raw = environ["CONFLUX_MEMBERS"]
        source = "env CONFLUX_MEMBERS"
        members = tuple(
            _member_from_spec(index, spec, source) for index, spec in enumerate(raw.split(","))
        )
        layer["members"] = Given(members, raw, source)
    return layer


def flag_layer(args: argparse.Namespace) -> Layer:
    layer: Layer = {}
    for field in _FIELDS:
        raw = getattr(args, field.dest, None)
        if field.flag is not None and raw is not None:
            layer[field.key] = field.given(raw, f"flag {field.flag}", text=True)
    if args.no_fsync:
        layer["raft.fsync"] = Given(False, True, "flag --no-fsync")
    if args.member is not None:
        specs: list[str] = args.member
        source = "flag --member"
        members = tuple(_member_from_spec(index, spec, source) for index, spec in enumerate(specs))
        layer["members"] = Given(members, specs, source)
    return layer


# --------------------------------------------------------------------------------------------
# The command line.


def build_parser() -> argparse.ArgumentParser:
    """The conflux-node command line. Every value flag is read as text and checked by the loader."""
    parser = argparse.ArgumentParser(
        prog="conflux-node",
        description="Run one Conflux node. Flags override CONFLUX_* variables, which override "
        "the settings file, which overrides the defaults.",
        allow_abbrev=False,
    )
    parser.add_argument("--config", metavar="PATH", help="TOML settings file (env CONFLUX_CONFIG)")
    for field in _FIELDS:
        if field.flag is not None:
            parser.add_argument(
                field.flag,
                dest=field.dest,
                metavar=field.metavar,
                help=f"{field.help} (env {field.env})",
            )
    parser.add_argument(
        "--no-fsync",
        action="store_true",
        help="do not fsync the Raft log; unsafe outside tests (env CONFLUX_RAFT_FSYNC=false)",
    )
    parser.add_argument(
        "--member",
        action="append",
        metavar="SPEC",
        help=f"a cluster member as {MEMBER_SPEC}; repeat for each member, replaces the file's "
        "and CONFLUX_MEMBERS' list (env CONFLUX_MEMBERS, comma-separated)",
    )
    return parser
