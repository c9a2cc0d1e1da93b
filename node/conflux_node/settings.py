"""Node settings: defaults, a TOML file, CONFLUX_* variables and flags, checked once at start.

Why a module of its own: a bad setting must stop the node before it opens a socket or touches
its data directory, with one line that names the setting and where the bad value came from::

    invalid setting http.port: must be between 1 and 65535 (got '0' from env CONFLUX_HTTP_PORT)

Gathering every source here also makes the precedence explicit and testable::

    defaults < TOML file < CONFLUX_* environment variables < command-line flags

The file path comes from ``--config PATH`` or ``CONFLUX_CONFIG``. A layer replaces single values
of the layers below it; ``members`` is replaced as a whole (``--member`` replaces the file's and
the environment's list). Every value a layer gives is checked, even one a higher layer overrides;
rules that tie settings together (member count, node among members, election_min below
election_max) are checked on the merged result.

This is the only module in the node that reads the process environment, and only in
`load_from_process()`: `load_settings()` takes argv and environ as arguments, so tests pass plain
lists and dicts. Unknown CONFLUX_* variables are ignored because the SDK and the CLI share the
prefix; unknown keys in the file are errors because there they can only be typos.
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import os
import pathlib
import re
import sys
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Literal, TypeVar
from urllib.parse import urlsplit

__all__ = [
    "HttpSettings",
    "LimitSettings",
    "Member",
    "RaftSettings",
    "Settings",
    "SettingsError",
    "build_parser",
    "load_from_process",
    "load_settings",
]

MAX_CONTENT_BYTES_LIMIT = 64 * 1024 * 1024
CLUSTER_SIZES = (1, 3, 5, 7)
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
MEMBER_SPEC = "ID@RAFTHOST:PORT@HTTPURL"


@dataclass(frozen=True, slots=True)
class Member:
    """One voter of the Raft group: its id, Raft "host:port" and base HTTP URL (no trailing /)."""

    id: str
    raft: str
    http: str


@dataclass(frozen=True, slots=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 7081


@dataclass(frozen=True, slots=True)
class RaftSettings:
    address: str  # this node's Raft "host:port"; defaults to its member entry's raft address
    fsync: bool = True
    election_min: float = 0.4
    election_max: float = 1.4
    compaction_min_entries: int = 50000
    compaction_min_seconds: int = 300


@dataclass(frozen=True, slots=True)
class LimitSettings:
    max_content_bytes: int = 1048576
    request_timeout: float = 5.0


@dataclass(frozen=True, slots=True)
class Settings:
    node_id: str
    data_dir: pathlib.Path
    http: HttpSettings
    raft: RaftSettings
    members: tuple[Member, ...]
    limits: LimitSettings
    log_level: str = "INFO"
    grpc_port: int | None = None

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


# --------------------------------------------------------------------------------------------
# Checks. Each takes an already typed value and returns it (possibly normalised) or raises
# `_Problem` saying what is wrong; the caller adds the key, the raw value and its source.


class _Problem(Exception):
    pass


_NODE_ID_RE = re.compile(r"[a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
_HOST_LABEL_RE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?")
_DOTTED_NUMBERS_RE = re.compile(r"[0-9.]+")
_INT_TEXT_RE = re.compile(r"[+-]?[0-9]+")
_PORT_RE = re.compile(r"[0-9]{1,5}")


def _is_host(host: str) -> bool:
    """True for an IPv4 address or a DNS hostname (labels of letters, digits and inner '-')."""
    if _DOTTED_NUMBERS_RE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return False
        return True
    if not host or len(host) > 253:
        return False
    return all(len(label) <= 63 and _HOST_LABEL_RE.fullmatch(label) for label in host.split("."))


def _check_node_id(value: str) -> str:
    if not _NODE_ID_RE.fullmatch(value):
        raise _Problem("must match [a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
    return value


def _check_path(value: str) -> str:
    if not value:
        raise _Problem("must not be empty")
    return value


def _check_log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise _Problem("must be one of " + ", ".join(LOG_LEVELS))
    return value.upper()


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise _Problem("must be between 1 and 65535")
    return value


def _check_host(value: str) -> str:
    if not _is_host(value):
        raise _Problem("must be an IPv4 address or a hostname")
    return value


def _check_host_port(value: str) -> str:
    host, colon, port = value.rpartition(":")
    if not (colon and _is_host(host) and _PORT_RE.fullmatch(port) and 1 <= int(port) <= 65535):
        raise _Problem("must be HOST:PORT with an IPv4 address or hostname and a port 1..65535")
    return value


def _check_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise _Problem("must start with http:// or https://")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname or not _is_host(parts.hostname) or port == 0:
        raise _Problem(
            "must be a URL with an IPv4 address or hostname and an optional port 1..65535"
        )
    return value.rstrip("/")


def _check_positive(value: float) -> float:
    if not value > 0:
        raise _Problem("must be greater than 0")
    return value


def _check_between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise _Problem(f"must be between {low} and {high}")
        return value

    return check


def _check_at_least(low: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise _Problem(f"must be at least {low}")
        return value

    return check


def _accept(value: object) -> object:
    return value


# --------------------------------------------------------------------------------------------
# Conversion from what a source gives (text from env and flags, typed values from TOML).

_Kind = Literal["str", "int", "float", "bool"]
_TRUE_TEXT = ("true", "1", "yes")
_FALSE_TEXT = ("false", "0", "no")


def _to_str(raw: object, text: bool) -> str:
    if not isinstance(raw, str):
        raise _Problem("must be a string")
    return raw


def _to_int(raw: object, text: bool) -> int:
    if text and isinstance(raw, str) and _INT_TEXT_RE.fullmatch(raw):
        return int(raw)
    if not text and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise _Problem("must be an integer")


def _to_float(raw: object, text: bool) -> float:
    number: float
    if text and isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            raise _Problem("must be a number") from None
    elif not text and isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    else:
        raise _Problem("must be a number")
    if not math.isfinite(number):
        raise _Problem("must be a finite number")
    return number


def _to_bool(raw: object, text: bool) -> bool:
    if text and isinstance(raw, str):
        if raw.lower() in _TRUE_TEXT:
            return True
        if raw.lower() in _FALSE_TEXT:
            return False
        raise _Problem("must be one of true, false, 1, 0, yes, no")
    if not text and isinstance(raw, bool):
        return raw
    raise _Problem("must be true or false")


_CONVERTERS: dict[_Kind, Callable[[object, bool], object]] = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
}


def _convert(kind: _Kind, raw: object, text: bool) -> object:
    """Turn `raw` into a value of `kind`; `text` is True for env and flags, False for TOML.

    Text is parsed (ints as optional sign and digits only); TOML values must already have the
    right type, except that a float setting accepts an integer. A bool is never an integer.
    """
    return _CONVERTERS[kind](raw, text)


def _invalid(key: str, what: str, raw: object, source: str) -> SettingsError:
    return SettingsError(f"invalid setting {key}: {what} (got {raw!r} from {source})")


@dataclass(frozen=True, slots=True)
class _Given:
    """A value as one layer gave it: converted and checked, plus the raw form for messages."""

    value: object
    raw: object
    source: str


@dataclass(frozen=True, slots=True)
class _Field:
    key: str  # dotted name, as in messages and the TOML layout
    kind: _Kind
    check: Callable[[Any], object]
    env: str
    flag: str | None  # None: no value-taking flag (fsync has --no-fsync)
    help: str
    metavar: str = "VALUE"

    @property
    def dest(self) -> str:
        return self.key.replace(".", "_")

    def given(self, raw: object, source: str, *, text: bool) -> _Given:
        try:
            value = self.check(_convert(self.kind, raw, text))
        except _Problem as problem:
            raise _invalid(self.key, str(problem), raw, source) from None
        return _Given(value, raw, source)


_FIELDS: tuple[_Field, ...] = (
    _Field(
        "node_id", "str", _check_node_id, "CONFLUX_NODE_ID", "--node-id", "this node's id", "ID"
    ),
    _Field(
        "data_dir",
        "str",
        _check_path,
        "CONFLUX_DATA_DIR",
        "--data-dir",
        "data directory (default .conflux/NODE_ID)",
        "PATH",
    ),
    _Field(
        "log_level",
        "str",
        _check_log_level,
        "CONFLUX_LOG_LEVEL",
        "--log-level",
        "DEBUG, INFO, WARNING or ERROR",
        "LEVEL",
    ),
    _Field(
        "grpc_port", "int", _check_port, "CONFLUX_GRPC_PORT", "--grpc-port", "gRPC port", "PORT"
    ),
    _Field(
        "http.host",
        "str",
        _check_host,
        "CONFLUX_HTTP_HOST",
        "--http-host",
        "HTTP bind host",
        "HOST",
    ),
    _Field(
        "http.port", "int", _check_port, "CONFLUX_HTTP_PORT", "--http-port", "HTTP port", "PORT"
    ),
    _Field(
        "raft.address",
        "str",
        _check_host_port,
        "CONFLUX_RAFT_ADDRESS",
        "--raft-address",
        "Raft HOST:PORT to bind (default: this node's member entry)",
        "HOST:PORT",
    ),
    _Field("raft.fsync", "bool", _accept, "CONFLUX_RAFT_FSYNC", None, ""),
    _Field(
        "raft.election_min",
        "float",
        _check_positive,
        "CONFLUX_RAFT_ELECTION_MIN",
        "--election-min",
        "minimum election timeout in seconds",
        "SECONDS",
    ),
    _Field(
        "raft.election_max",
        "float",
        _check_positive,
        "CONFLUX_RAFT_ELECTION_MAX",
        "--election-max",
        "maximum election timeout in seconds",
        "SECONDS",
    ),
    _Field(
        "raft.compaction_min_entries",
        "int",
        _check_at_least(1),
        "CONFLUX_RAFT_COMPACTION_MIN_ENTRIES",
        "--compaction-min-entries",
        "log entries before a snapshot is taken",
        "N",
    ),
    _Field(
        "raft.compaction_min_seconds",
        "int",
        _check_at_least(0),
        "CONFLUX_RAFT_COMPACTION_MIN_SECONDS",
        "--compaction-min-seconds",
        "seconds between snapshots",
        "SECONDS",
    ),
    _Field(
        "limits.max_content_bytes",
        "int",
        _check_between(1, MAX_CONTENT_BYTES_LIMIT),
        "CONFLUX_MAX_CONTENT_BYTES",
        "--max-content-bytes",
        "largest accepted config content in bytes",
        "BYTES",
    ),
    _Field(
        "limits.request_timeout",
        "float",
        _check_positive,
        "CONFLUX_REQUEST_TIMEOUT",
        "--request-timeout",
        "seconds a request waits before timing out",
        "SECONDS",
    ),
)
_BY_KEY = {field.key: field for field in _FIELDS}
_TABLES = ("http", "raft", "limits")
_MEMBER_KEYS = ("id", "raft", "http")

# --------------------------------------------------------------------------------------------
# Members.

_Layer = dict[str, _Given]


def _member(index: int, parts: Mapping[str, object], source: str) -> Member:
    checks: dict[str, Callable[[str], str]] = {
        "id": _check_node_id,
        "raft": _check_host_port,
        "http": _check_url,
    }
    values: dict[str, str] = {}
    for name, check in checks.items():
        raw = parts[name]
        try:
            values[name] = check(_to_str(raw, text=False))
        except _Problem as problem:
            raise _invalid(f"members[{index}].{name}", str(problem), raw, source) from None
    return Member(id=values["id"], raft=values["raft"], http=values["http"])


def _member_from_spec(index: int, spec: str, source: str) -> Member:
    """Parse "ID@RAFTHOST:PORT@HTTPURL"; the URL may itself contain '@'."""
    parts = spec.strip().split("@", 2)
    if len(parts) != 3:
        raise _invalid(f"members[{index}]", f"must be {MEMBER_SPEC}", spec, source)
    return _member(index, dict(zip(_MEMBER_KEYS, parts, strict=True)), source)


def _members_from_file(raw: object, source: str) -> _Given:
    if not isinstance(raw, list):
        raise _invalid("members", "must be an array of tables ([[members]])", raw, source)
    members = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _invalid(f"members[{index}]", "must be a table", item, source)
        for name, value in item.items():
            if name not in _MEMBER_KEYS:
                raise _invalid(f"members[{index}].{name}", "unknown key", value, source)
        for name in _MEMBER_KEYS:
            if name not in item:
                raise _invalid(f"members[{index}]", f"missing key {name}", item, source)
        members.append(_member(index, item, source))
    return _Given(tuple(members), raw, source)


# --------------------------------------------------------------------------------------------
# Layers.


def _defaults() -> _Layer:
    layer: _Layer = {}
    sections: tuple[tuple[str, type[object]], ...] = (
        ("", Settings),
        ("http.", HttpSettings),
        ("raft.", RaftSettings),
        ("limits.", LimitSettings),
    )
    for prefix, cls in sections:
        for field in fields(cls):  # type: ignore[arg-type]
            if field.default is not MISSING and field.default is not None:
                layer[prefix + field.name] = _Given(field.default, field.default, "default")
    return layer


def _file_layer(path: str) -> _Layer:
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

    layer: _Layer = {}
    for name, raw in data.items():
        if name == "members":
            layer["members"] = _members_from_file(raw, source)
        elif name in _TABLES:
            if not isinstance(raw, dict):
                raise _invalid(name, "must be a table", raw, source)
            for sub, sub_raw in raw.items():
                key = f"{name}.{sub}"
                if key not in _BY_KEY:
                    raise _invalid(key, "unknown key", sub_raw, source)
                layer[key] = _BY_KEY[key].given(sub_raw, source, text=False)
        elif name in _BY_KEY and "." not in name:
            layer[name] = _BY_KEY[name].given(raw, source, text=False)
        else:
            raise _invalid(name, "unknown key", raw, source)
    return layer


def _env_layer(environ: Mapping[str, str]) -> _Layer:
    layer: _Layer = {}
    for field in _FIELDS:
        if field.env in environ:
            layer[field.key] = field.given(environ[field.env], f"env {field.env}", text=True)
    if "CONFLUX_MEMBERS" in environ:
        raw = environ["CONFLUX_MEMBERS"]
        source = "env CONFLUX_MEMBERS"
        members = tuple(
            _member_from_spec(index, spec, source) for index, spec in enumerate(raw.split(","))
        )
        layer["members"] = _Given(members, raw, source)
    return layer


def _flag_layer(args: argparse.Namespace) -> _Layer:
    layer: _Layer = {}
    for field in _FIELDS:
        raw = getattr(args, field.dest, None)
        if field.flag is not None and raw is not None:
            layer[field.key] = field.given(raw, f"flag {field.flag}", text=True)
    if args.no_fsync:
        layer["raft.fsync"] = _Given(False, True, "flag --no-fsync")
    if args.member is not None:
        specs: list[str] = args.member
        source = "flag --member"
        members = tuple(_member_from_spec(index, spec, source) for index, spec in enumerate(specs))
        layer["members"] = _Given(members, specs, source)
    return layer


# --------------------------------------------------------------------------------------------
# Public entry points.


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


_T = TypeVar("_T")


def _typed(given: _Given, kind: type[_T]) -> _T:
    value = given.value
    if not isinstance(value, kind):  # pragma: no cover - the checks above guarantee the type
        raise TypeError(f"internal: {given!r} is not a {kind.__name__}")
    return value


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Merge defaults < file < environ < argv into a validated `Settings`.

    Raises `SettingsError` for a missing or invalid setting or an unreadable file. A malformed
    command line (unknown flag, flag without its value) is argparse's business: it prints usage
    and raises SystemExit(2), as does --help with SystemExit(0).
    """
    args = build_parser().parse_args(list(argv))
    config_path: str | None = (
        args.config if args.config is not None else environ.get("CONFLUX_CONFIG")
    )
    merged = _defaults()
    if config_path is not None:
        merged.update(_file_layer(config_path))
    merged.update(_env_layer(environ))
    merged.update(_flag_layer(args))

    if "node_id" not in merged:
        raise SettingsError(
            "missing setting node_id: set node_id in the file, CONFLUX_NODE_ID or --node-id"
        )
    if "members" not in merged:
        raise SettingsError(
            "missing setting members: set [[members]] in the file, CONFLUX_MEMBERS or --member"
        )
    node = merged["node_id"]
    node_id = _typed(node, str)
    given_members = merged["members"]
    members = _typed(given_members, tuple)

    if len(members) not in CLUSTER_SIZES:
        raise _invalid(
            "members",
            f"a cluster has 1, 3, 5 or 7 members, got {len(members)}",
            given_members.raw,
            given_members.source,
        )
    seen_ids: set[str] = set()
    seen_rafts: set[tuple[str, int]] = set()
    for index, member in enumerate(members):
        assert isinstance(member, Member)
        if member.id in seen_ids:
            raise _invalid(
                f"members[{index}].id", "duplicate member id", member.id, given_members.source
            )
        seen_ids.add(member.id)
        host, _, port = member.raft.rpartition(":")
        if (host.lower(), int(port)) in seen_rafts:
            raise _invalid(
                f"members[{index}].raft",
                "duplicate raft address",
                member.raft,
                given_members.source,
            )
        seen_rafts.add((host.lower(), int(port)))
    member_ids = [member.id for member in members]
    if node_id not in member_ids:
        raise _invalid(
            "node_id",
            "must be one of the member ids " + ", ".join(member_ids),
            node.raw,
            node.source,
        )

    election_min, election_max = merged["raft.election_min"], merged["raft.election_max"]
    if not _typed(election_min, float) < _typed(election_max, float):
        raise _invalid(
            "raft.election_max",
            f"must be greater than raft.election_min, which is {election_min.value!r} "
            f"from {election_min.source}",
            election_max.raw,
            election_max.source,
        )

    self_member = next(member for member in members if member.id == node_id)
    data_dir = merged.get("data_dir")
    grpc_port = merged.get("grpc_port")
    raft_address = merged.get("raft.address")
    return Settings(
        node_id=node_id,
        data_dir=pathlib.Path(
            _typed(data_dir, str) if data_dir is not None else f".conflux/{node_id}"
        ),
        http=HttpSettings(
            host=_typed(merged["http.host"], str),
            port=_typed(merged["http.port"], int),
        ),
        raft=RaftSettings(
            address=_typed(raft_address, str) if raft_address is not None else self_member.raft,
            fsync=_typed(merged["raft.fsync"], bool),
            election_min=_typed(election_min, float),
            election_max=_typed(election_max, float),
            compaction_min_entries=_typed(merged["raft.compaction_min_entries"], int),
            compaction_min_seconds=_typed(merged["raft.compaction_min_seconds"], int),
        ),
        members=tuple(members),
        limits=LimitSettings(
            max_content_bytes=_typed(merged["limits.max_content_bytes"], int),
            request_timeout=_typed(merged["limits.request_timeout"], float),
        ),
        log_level=_typed(merged["log_level"], str),
        grpc_port=_typed(grpc_port, int) if grpc_port is not None else None,
    )


def load_from_process() -> Settings:
    """Load settings from this process: `os.environ` and `sys.argv[1:]`."""
    return load_settings(sys.argv[1:], os.environ)
