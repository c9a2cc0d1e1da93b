"""Immutable snapshots of served config content, and the typed getters over them.

Why: a change swaps one immutable `Snapshot` for another, so a reader on any thread
sees either the old or the new document, never half of each, and a change listener can
be handed both. The parsed document is built once per snapshot, not per read.

Keys: json, yaml and toml are read with dotted keys (`"db.pool_size"`; a list is
indexed by number, `"servers.0.host"`; a key that itself holds dots matches too).
Properties keys are looked up as they are written (`"db.pool.size"` is one key). A
text config has no keys: `get_string(None)` or `.raw` gives the whole content.
"""

from __future__ import annotations

import abc
import copy
import datetime as dt
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from conflux.formats import FormatError, parse_document

_T = TypeVar("_T")
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


class _Missing(enum.Enum):
    MISSING = enum.auto()


MISSING = _Missing.MISSING


class ConfigKeyError(KeyError):
    """A key that the config does not hold, asked for without a default."""

    def __init__(self, name: str, key: str | None, available: bool = True) -> None:
        self.name, self.key = name, key
        if not available:
            message = f"config {name!r} is not available (nothing served or cached)"
        else:
            message = f"config {name!r} has no key {key!r}"
        super().__init__(message)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class ConfigTypeError(TypeError, ValueError):
    """A value that cannot be read as the type asked for."""

    def __init__(self, name: str, key: str | None, expected: str, value: object) -> None:
        self.name, self.key, self.expected, self.value = name, key, expected, value
        where = "the document" if key is None else f"key {key!r}"
        super().__init__(f"config {name!r}: {where} is not {expected}: {value!r}")


# --- typed conversions ------------------------------------------------------------------


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    raise TypeError


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return int(value.strip(), 10)
    raise TypeError


def _as_float(value: Any) -> float:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        return float(value.strip())
    raise TypeError


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE or word in _FALSE:
            return word in _TRUE
    raise TypeError


class Getters(abc.ABC):
    """Typed reads over whatever `_snapshot()` currently is; shared by snapshots and views.

    A missing key gives `default`, or raises `ConfigKeyError` when none was given. A
    value of the wrong type raises `ConfigTypeError` (also when it is null).
    """

    name: str

    @abc.abstractmethod
    def _snapshot(self) -> Snapshot | None:
        """The snapshot the getters read: fixed for a Snapshot, current for a view."""

    def _read(
        self, key: str | None, default: Any, expected: str, convert: Callable[[Any], Any]
    ) -> Any:
        snapshot = self._snapshot()
        value = MISSING if snapshot is None else snapshot.lookup(key)
        if value is MISSING:
            if default is MISSING:
                raise ConfigKeyError(self.name, key, available=snapshot is not None)
            return default
        if value is None and default is not MISSING:
            return default
        try:
            return convert(value)
        except (TypeError, ValueError):
            raise ConfigTypeError(self.name, key, expected, value) from None

    @overload
    def get_string(self, key: str | None) -> str: ...
    @overload
    def get_string(self, key: str | None, default: _T) -> str | _T: ...
    def get_string(self, key: str | None, default: Any = MISSING) -> Any:
        """A string; numbers and booleans are given as text (`true`/`false`)."""
        return self._read(key, default, "a string", _as_string)

    @overload
    def get_int(self, key: str) -> int: ...
    @overload
    def get_int(self, key: str, default: _T) -> int | _T: ...
    def get_int(self, key: str, default: Any = MISSING) -> Any:
        """An integer; a string is parsed, a float must be whole, a boolean is refused."""
        return self._read(key, default, "an integer", _as_int)

    @overload
    def get_float(self, key: str) -> float: ...
    @overload
    def get_float(self, key: str, default: _T) -> float | _T: ...
    def get_float(self, key: str, default: Any = MISSING) -> Any:
        return self._read(key, default, "a number", _as_float)

    @overload
    def get_bool(self, key: str) -> bool: ...
    @overload
    def get_bool(self, key: str, default: _T) -> bool | _T: ...
    def get_bool(self, key: str, default: Any = MISSING) -> Any:
        """A boolean; strings true/false, yes/no, on/off, 1/0 (any case) are accepted."""
        return self._read(key, default, "a boolean", _as_bool)

    def get_json(self, key: str | None = None, default: Any = MISSING) -> Any:
        """The value at `key` (None: the whole document) as a fresh copy of its tree."""
        snapshot = self._snapshot()
        value = MISSING if snapshot is None else snapshot.lookup(key)
        if value is MISSING:
            if default is MISSING:
                raise ConfigKeyError(self.name, key, available=snapshot is not None)
            return default
        return copy.deepcopy(value)


# --- snapshots ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot(Getters):
    """One served version of a config, as the node sent it. Compare by `sha256`."""

    name: str
    version: int
    release_revision: int
    sha256: str
    format: str
    content: str
    rule: str | None = None
    document: Any = field(init=False, repr=False, compare=False)
    error: FormatError | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            document, error = parse_document(self.format, self.content), None
        except FormatError as exc:  # the node validates, so only a parser skew gets here
            document, error = None, exc
        object.__setattr__(self, "document", document)
        object.__setattr__(self, "error", error)

    @property
    def raw(self) -> str:
        return self.content

    def flat(self) -> dict[str, Any]:
        """Every key a getter accepts (parents included, list items excluded) -> value."""
        if self.format == "properties":
            return dict(self.document or {})
        out: dict[str, Any] = {}
        if isinstance(self.document, dict) and self.format != "text":
            _flatten(self.document, "", out)
        return out

    def _snapshot(self) -> Snapshot | None:
        return self

    def lookup(self, key: str | None) -> Any:
        """The value at `key` (None: the whole document), or MISSING."""
        if self.error is not None:
            raise self.error
        if key is None:
            return self.document
        if self.format == "text":
            return MISSING
        if self.format == "properties":
            return self.document.get(key, MISSING)
        return _find(self.document, key.split("."))


def _flatten(node: Mapping[Any, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in node.items():
        dotted = f"{prefix}{key}"
        out[dotted] = value
        if isinstance(value, dict):
            _flatten(value, dotted + ".", out)


def _find(node: Any, parts: list[str]) -> Any:
    if not parts:
        return node
    if isinstance(node, dict):
        for size in range(len(parts), 0, -1):  # longest first, so "a.b" keys match
            joined = ".".join(parts[:size])
            if joined in node:
                found = _find(node[joined], parts[size:])
                if found is not MISSING:
                    return found
        return MISSING
    if isinstance(node, list) and parts[0].isdigit() and int(parts[0]) < len(node):
        return _find(node[int(parts[0])], parts[1:])
    return MISSING


def changed_keys(old: Snapshot | None, new: Snapshot | None) -> frozenset[str]:
    """Dotted keys whose value differs between two snapshots (parents of a change too)."""
    before = old.flat() if old is not None and old.error is None else {}
    after = new.flat() if new is not None and new.error is None else {}
    return frozenset(
        key
        for key in before.keys() | after.keys()
        if before.get(key, MISSING) != after.get(key, MISSING)
    )


@dataclass(frozen=True)
class ChangeEvent:
    """What a change listener gets. `new` is None when nothing is served any more."""

    name: str
    old: Snapshot | None
    new: Snapshot | None
    changed_keys: frozenset[str]


class ConfigView(Getters):
    """A live view of one config: every read sees the snapshot current at that moment.

    Read a value each time it is needed rather than keeping it, and a change reaches
    the code without a restart. Two reads may see two versions; for a consistent set of
    reads take `view.snapshot` once and read from it.
    """

    def __init__(self, name: str, current: Callable[[], Snapshot | None]) -> None:
        self.name = name
        self._current = current

    def _snapshot(self) -> Snapshot | None:
        return self._current()

    @property
    def snapshot(self) -> Snapshot | None:
        """The current snapshot, or None when nothing is served or cached."""
        return self._current()

    @property
    def available(self) -> bool:
        return self._current() is not None

    @property
    def version(self) -> int | None:
        snapshot = self._current()
        return None if snapshot is None else snapshot.version

    @property
    def sha256(self) -> str | None:
        snapshot = self._current()
        return None if snapshot is None else snapshot.sha256

    @property
    def format(self) -> str | None:
        snapshot = self._current()
        return None if snapshot is None else snapshot.format

    @property
    def raw(self) -> str | None:
        snapshot = self._current()
        return None if snapshot is None else snapshot.content

    def __repr__(self) -> str:
        return f"ConfigView({self.name!r}, version={self.version!r})"
