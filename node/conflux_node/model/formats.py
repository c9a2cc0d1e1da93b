"""Content formats: parse a version's text, check it against the config's JSON Schema.

Why here: a write is accepted or refused before it is proposed to Raft, and every
replica must reach the same verdict, so parsing is pure and deterministic. Parsing itself
is `conflux.formats` (shared with the SDK); its `FormatError` becomes `ContentInvalid`,
whose 1-based line/column numbers let the edge point a user at the broken spot. Parsed
YAML/TOML may hold dates, bytes or sets; they are turned into JSON types before schema
validation so a `{"type": "string"}` schema accepts `2024-01-01`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from itertools import islice
from typing import Any

import jsonschema
from jsonschema.exceptions import best_match
from referencing.exceptions import Unresolvable

from conflux import formats as _formats
from conflux.formats import FormatError
from conflux_node.model.entities import STRUCTURED, Format
from conflux_node.model.errors import ContentInvalid, InvalidSchema, SchemaViolation

MAX_SCHEMA_ERRORS = 10
MAX_NODES = 1_000_000
_MAX_SCAN = 1000
_MAX_MESSAGE = 300


def content_sha(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def schema_sha(schema: Mapping[str, Any] | None) -> str:
    return "" if schema is None else hashlib.sha256(canonical_json(schema).encode()).hexdigest()


def _invalid(fmt: Format, reason: str, line: int | None, column: int | None) -> ContentInvalid:
    where = f" (line {line}, column {column})" if line is not None else ""
    message = f"content is not valid {fmt}: {reason}{where}"
    return ContentInvalid(message, field="content", format=fmt, line=line, column=column)


def parse_properties(text: str) -> dict[str, str]:
    """Parse Java .properties text with `conflux.formats`. Raises `ContentInvalid`."""
    try:
        return _formats.parse_properties(text)
    except FormatError as exc:
        raise _invalid("properties", exc.message, exc.line, exc.column) from exc


def parse_document(fmt: Format, content: str) -> Any:
    """Parse `content` in `fmt` with `conflux.formats`; `FormatError` becomes `ContentInvalid`.

    Properties give dict[str, str], text gives the str itself.
    """
    try:
        return _formats.parse_document(fmt, content)
    except FormatError as exc:
        raise _invalid(fmt, exc.message, exc.line, exc.column) from exc


class _JsonTypes:
    """Turns a parsed YAML/TOML tree into JSON types (dates become ISO strings).

    Nodes are counted so a YAML alias bomb cannot expand without bound.
    """

    def __init__(self, fmt: Format) -> None:
        self.fmt = fmt
        self.nodes = 0

    def convert(self, value: Any, seen: frozenset[int] = frozenset()) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _invalid(self.fmt, f"document expands to more than {MAX_NODES} nodes", None, None)
        if isinstance(value, dt.date | dt.time):
            return value.isoformat()
        if isinstance(value, bytes):
            return base64.b64encode(value).decode("ascii")
        if not isinstance(value, dict | list | tuple | set | frozenset):
            return value
        if id(value) in seen:
            raise _invalid(self.fmt, "document contains a recursive alias", None, None)
        seen = seen | {id(value)}
        if isinstance(value, dict):
            return {self.key(k): self.convert(v, seen) for k, v in value.items()}
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [self.convert(item, seen) for item in items]

    def key(self, key: Any) -> str:
        converted = self.convert(key)
        return converted if isinstance(converted, str) else json.dumps(converted)


def check_schema(fmt: Format, schema: object) -> None:
    """Raise `InvalidSchema` unless `schema` is None or a Draft 2020-12 schema object."""
    if schema is None:
        return
    if fmt not in STRUCTURED:
        reason = "schema is only allowed for structured formats (json, yaml, toml)"
        raise InvalidSchema(reason, field="schema")
    if not isinstance(schema, dict):
        raise InvalidSchema("schema must be a JSON object", field="schema")
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise InvalidSchema(
            f"schema is not a valid JSON Schema (Draft 2020-12): {_short(exc.message)}",
            field="schema",
            path=_pointer(exc.path),
        ) from exc


@lru_cache(maxsize=256)
def compiled_validator(schema_json: str) -> jsonschema.Draft202012Validator:
    """A validator for the canonical JSON text of a schema, built once per schema."""
    return jsonschema.Draft202012Validator(json.loads(schema_json))


def validate_content(fmt: Format, content: str, schema: Mapping[str, Any] | None) -> None:
    """Raise `ContentInvalid`/`SchemaViolation` unless acceptable; schemas apply to STRUCTURED."""
    document = parse_document(fmt, content)
    if schema is None or fmt not in STRUCTURED:
        return
    validator = compiled_validator(canonical_json(schema))
    try:
        errors = list(islice(validator.iter_errors(_JsonTypes(fmt).convert(document)), _MAX_SCAN))
    except Unresolvable as exc:
        reason = f"schema has an unresolvable $ref: {_short(str(exc))}"
        raise InvalidSchema(reason, field="schema") from exc
    except RecursionError as exc:
        raise _invalid(fmt, "document is nested too deeply", None, None) from exc
    if errors:
        raise _violation(errors)


def _violation(errors: list[jsonschema.ValidationError]) -> SchemaViolation:
    primary = best_match(errors)
    path = _pointer(primary.absolute_path)
    errors.sort(key=lambda e: (_pointer(e.absolute_path), _pointer(e.absolute_schema_path)))
    return SchemaViolation(
        f"content violates schema at {path or '/'}: {_short(primary.message)}",
        field="content",
        path=path,
        schema_path=_pointer(primary.absolute_schema_path),
        errors=[
            f"{_pointer(e.absolute_path) or '/'}: {_short(e.message)}"
            for e in errors[:MAX_SCHEMA_ERRORS]
        ],
    )


def _pointer(parts: Iterable[Any]) -> str:
    """JSON Pointer (RFC 6901) of a jsonschema path; the root is ''."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _short(message: str) -> str:
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."
