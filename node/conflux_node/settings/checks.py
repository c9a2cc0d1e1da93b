"""Setting values: turning what a source gives into a typed value, and checking that value.

Why a module of its own: each rule here is about one value alone (a port is 1..65535, a node id
is a DNS-label-style name, a URL has a host), so it can be written and tested without knowing
which source gave the value or what the other settings are. Rules that tie settings together
live in the loader, which sees the merged result.

A check takes an already typed value and returns it (possibly normalised) or raises `Problem`
saying what is wrong; the caller adds the key, the raw value and its source with `invalid()`, so
every message has the same form::

    invalid setting http.port: must be between 1 and 65535 (got '0' from env CONFLUX_HTTP_PORT)

Sources differ in what they give: the environment and flags give text, which is parsed; a TOML
file gives typed values, which must already have the right type (see `convert()`).
"""

from __future__ import annotations

import ipaddress
import math
import pathlib
import re
from collections.abc import Callable
from typing import Literal
from urllib.parse import urlsplit

from conflux_node.settings.shapes import LOG_LEVELS, SettingsError


class Problem(Exception):
    """What is wrong with one value, without the key, raw value or source."""


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


def check_node_id(value: str) -> str:
    if not _NODE_ID_RE.fullmatch(value):
        raise Problem("must match [a-z0-9]([-a-z0-9_.]*[a-z0-9])?")
    return value


def check_path(value: str) -> str:
    if not value:
        raise Problem("must not be empty")
    return value


def check_file(value: str) -> str:
    """A path to an existing regular file (whether it holds what it should is the loader's)."""
    if not value:
        raise Problem("must not be empty")
    if not pathlib.Path(value).is_file():
        raise Problem("no such file")
    return value


def check_log_level(value: str) -> str:
    if value.upper() not in LOG_LEVELS:
        raise Problem("must be one of " + ", ".join(LOG_LEVELS))
    return value.upper()


def check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise Problem("must be between 1 and 65535")
    return value


def check_host(value: str) -> str:
    if not _is_host(value):
        raise Problem("must be an IPv4 address or a hostname")
    return value


def check_host_port(value: str) -> str:
    host, colon, port = value.rpartition(":")
    if not (colon and _is_host(host) and _PORT_RE.fullmatch(port) and 1 <= int(port) <= 65535):
        raise Problem("must be HOST:PORT with an IPv4 address or hostname and a port 1..65535")
    return value


def check_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise Problem("must start with http:// or https://")
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        port = 0
    if not parts.hostname or not _is_host(parts.hostname) or port == 0:
        raise Problem(
            "must be a URL with an IPv4 address or hostname and an optional port 1..65535"
        )
    return value.rstrip("/")


def check_positive(value: float) -> float:
    if not value > 0:
        raise Problem("must be greater than 0")
    return value


def check_between(low: int, high: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if not low <= value <= high:
            raise Problem(f"must be between {low} and {high}")
        return value

    return check


def check_at_least(low: int) -> Callable[[int], int]:
    def check(value: int) -> int:
        if value < low:
            raise Problem(f"must be at least {low}")
        return value

    return check


def check_secret_text(limit: int) -> Callable[[str], str]:
    """A non-empty secret of at most `limit` characters (messages never quote it)."""

    def check(value: str) -> str:
        if not value:
            raise Problem("must not be empty")
        if len(value) > limit:
            raise Problem(f"must be at most {limit} characters")
        return value

    return check


def check_raft_secret(value: str) -> str:
    """A shared secret for Raft traffic: long enough to resist guessing."""
    if not MIN_RAFT_SECRET_CHARS <= len(value) <= MAX_RAFT_SECRET_CHARS:
        raise Problem(f"must be {MIN_RAFT_SECRET_CHARS} to {MAX_RAFT_SECRET_CHARS} characters long")
    return value


MIN_RAFT_SECRET_CHARS = 16
MAX_RAFT_SECRET_CHARS = 1024
MIN_TOKEN_KEY_CHARS = 32
MAX_TOKEN_KEY_CHARS = 1024


def check_token_key(value: str) -> str:
    """A token-signing key from settings: at least 32 characters (HS256 wants 256 bits)."""
    if not MIN_TOKEN_KEY_CHARS <= len(value) <= MAX_TOKEN_KEY_CHARS:
        raise Problem(f"must be {MIN_TOKEN_KEY_CHARS} to {MAX_TOKEN_KEY_CHARS} characters long")
    return value


def accept(value: object) -> object:
    return value


# --------------------------------------------------------------------------------------------
# Conversion from what a source gives (text from env and flags, typed values from TOML).

Kind = Literal["str", "int", "float", "bool"]
_TRUE_TEXT = ("true", "1", "yes")
_FALSE_TEXT = ("false", "0", "no")


def to_str(raw: object, text: bool) -> str:
    if not isinstance(raw, str):
        raise Problem("must be a string")
    return raw


def _to_int(raw: object, text: bool) -> int:
    if text and isinstance(raw, str) and _INT_TEXT_RE.fullmatch(raw):
        return int(raw)
    if not text and isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    raise Problem("must be an integer")


def _to_float(raw: object, text: bool) -> float:
    number: float
    if text and isinstance(raw, str):
        try:
            number = float(raw)
        except ValueError:
            raise Problem("must be a number") from None
    elif not text and isinstance(raw, int | float) and not isinstance(raw, bool):
        number = float(raw)
    else:
        raise Problem("must be a number")
    if not math.isfinite(number):
        raise Problem("must be a finite number")
    return number


def _to_bool(raw: object, text: bool) -> bool:
    if text and isinstance(raw, str):
        if raw.lower() in _TRUE_TEXT:
            return True
        if raw.lower() in _FALSE_TEXT:
            return False
        raise Problem("must be one of true, false, 1, 0, yes, no")
    if not text and isinstance(raw, bool):
        return raw
    raise Problem("must be true or false")


_CONVERTERS: dict[Kind, Callable[[object, bool], object]] = {
    "str": to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
}


def convert(kind: Kind, raw: object, text: bool) -> object:
    """Turn `raw` into a value of `kind`; `text` is True for env and flags, False for TOML.

    Text is parsed (ints as optional sign and digits only); TOML values must already have the
    right type, except that a float setting accepts an integer. A bool is never an integer.
    """
    return _CONVERTERS[kind](raw, text)


HIDDEN = "[hidden]"
"""What a message shows instead of a secret setting's value."""


def invalid(key: str, what: str, raw: object, source: str) -> SettingsError:
    return SettingsError(f"invalid setting {key}: {what} (got {raw!r} from {source})")


def invalid_secret(key: str, what: str, source: str) -> SettingsError:
    """Like `invalid`, without the value: a password must not reach a terminal or a log."""
    return SettingsError(f"invalid setting {key}: {what} (got {HIDDEN} from {source})")
