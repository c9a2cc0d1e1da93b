"""Parsing config content: Java .properties, JSON, YAML, TOML and plain text.

Why here, in the SDK: the node refuses invalid content before it is proposed and the
client parses what it is served, and both must read a document the same way. The node
parses with this module (turning `FormatError` into its own `ContentInvalid`), so there
is one parser per format. The module is pure: no I/O, no
clock, no randomness, so every replica reaches the same verdict.

Errors carry 1-based line/column numbers where the parser knows them.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Iterator
from typing import Any

import yaml
from yaml.reader import ReaderError

FORMATS = ("json", "yaml", "toml", "properties", "text")

_NEWLINE = re.compile(r"\r\n|\r|\n")
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_TOML_POS = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")
_PROP_WS = " \t\f"
_PROP_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_LogicalLine = tuple[str, list[tuple[int, int]]]


class FormatError(ValueError):
    """Content that does not parse in its format; `line`/`column` are 1-based or None."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        where = f" (line {line}, column {column})" if line is not None else ""
        super().__init__(message + where)
        self.message, self.line, self.column = message, line, column


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character `index` in `text`."""
    lines = _NEWLINE.split(text[:index])
    return len(lines), len(lines[-1]) + 1


# --- Java .properties (as java.util.Properties.load, JDK 9+) ---------------------------


def _logical_lines(text: str) -> Iterator[_LogicalLine]:
    """Join continued lines, skip blanks and comments; give each char's (line, column)."""
    chars: list[str] = []
    where: list[tuple[int, int]] = []
    for number, natural in enumerate(_NEWLINE.split(text), start=1):
        start = len(natural) - len(natural.lstrip(_PROP_WS))
        body = natural[start:]
        if not chars and (not body or body[0] in "#!"):  # as JDK 9+: comment iff line empty
            continue
        continuing = (len(body) - len(body.rstrip("\\"))) % 2 == 1
        keep = body[:-1] if continuing else body
        chars.extend(keep)
        where.extend((number, start + i + 1) for i in range(len(keep)))
        if continuing:
            continue
        if chars:
            yield "".join(chars), where
        chars, where = [], []
    if chars:
        yield "".join(chars), where


def _split_key(text: str) -> tuple[int, int]:
    """Return (end of key, start of value) following java.util.Properties.load."""
    end = 0
    while end < len(text) and text[end] not in "=:" + _PROP_WS:
        end += 2 if text[end] == "\\" else 1
    end = start = min(end, len(text))
    separators = 0
    while start < len(text) and text[start] in _PROP_WS + "=:":
        separators += text[start] in "=:"
        if separators > 1:
            break
        start += 1
    return end, start


def _unescape(line: _LogicalLine, begin: int, end: int) -> str:
    """Resolve escapes in line[begin:end]; surrogate pairs from two \\u escapes are joined."""
    (text, where), out, i = line, [], begin
    while i < end:
        char = text[i]
        if char != "\\" or i + 1 >= end:
            out.append("" if char == "\\" else char)
            i += 1
            continue
        code = text[i + 1]
        if code == "u":
            digits = text[i + 2 : i + 6]
            if i + 6 > end or not _HEX4.fullmatch(digits):
                raise FormatError("malformed \\uXXXX escape", *where[i])
            out.append(chr(int(digits, 16)))
            i += 6
            continue
        out.append(_PROP_ESCAPES.get(code, code))
        i += 2
    try:
        return "".join(out).encode("utf-16", "surrogatepass").decode("utf-16")
    except UnicodeDecodeError as exc:
        raise FormatError("unpaired surrogate in \\u escape", *where[begin]) from exc


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java .properties text; later duplicates win. Raises `FormatError`."""
    result: dict[str, str] = {}
    for line in _logical_lines(text):
        key_end, value_start = _split_key(line[0])
        result[_unescape(line, 0, key_end)] = _unescape(line, value_start, len(line[0]))
    return result


# --- structured formats -----------------------------------------------------------------


def _parse_json(content: str) -> Any:
    try:
        return json.loads(content)
    except json.JSONDecodeError as exc:
        raise FormatError(exc.msg, exc.lineno, exc.colno) from exc


def _parse_yaml(content: str) -> Any:
    try:
        return yaml.safe_load(content)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = "; ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        if mark is None:
            raise FormatError(reason) from exc
        raise FormatError(reason, mark.line + 1, mark.column + 1) from exc
    except ReaderError as exc:
        raise FormatError(str(exc).splitlines()[0], *_position(content, exc.position)) from exc
    except yaml.YAMLError as exc:
        raise FormatError(str(exc)) from exc


def _parse_toml(content: str) -> Any:
    try:
        return tomllib.loads(content)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        found = _TOML_POS.search(reason)
        if found:
            line, column = int(found.group(1)), int(found.group(2))
            raise FormatError(reason[: found.start()], line, column) from exc
        reason = reason.replace(" (at end of document)", " at end of document")
        raise FormatError(reason, *_position(content, len(content))) from exc


_PARSERS: dict[str, Callable[[str], Any]] = {
    "json": _parse_json,
    "yaml": _parse_yaml,
    "toml": _parse_toml,
    "properties": parse_properties,
    "text": str,
}


def parse_document(fmt: str, content: str) -> Any:
    """Parse `content` written in `fmt`.

    json/yaml/toml give their natural Python tree, properties a `dict[str, str]` and
    text the string itself. Raises `FormatError` for bad content (including a non-str or
    a lone surrogate, which cannot be UTF-8) or an unknown format.
    """
    parser = _PARSERS.get(fmt)
    if parser is None:
        raise FormatError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    if not isinstance(content, str):
        raise FormatError("content must be a string")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise FormatError("content is not encodable as UTF-8") from exc
    try:
        return parser(content)
    except FormatError:
        raise
    except RecursionError as exc:
        raise FormatError("document is nested too deeply") from exc
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise FormatError(str(exc)) from exc
