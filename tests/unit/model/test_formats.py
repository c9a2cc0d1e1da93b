"""Unit tests for conflux_node.model.formats: parsing, schema checks and hashes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from conflux_node.model import formats
from conflux_node.model.errors import ContentInvalid, InvalidSchema, SchemaViolation
from conflux_node.model.formats import (
    check_schema,
    compiled_validator,
    content_sha,
    parse_document,
    parse_properties,
    schema_sha,
    validate_content,
)

POOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "db": {
            "type": "object",
            "properties": {
                "pool_size": {"type": "integer", "minimum": 1},
                "host": {"type": "string"},
            },
        }
    },
}


# --- parsing: valid documents -------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        ("json", '{"a": [1, 2], "b": null}', {"a": [1, 2], "b": None}),
        ("yaml", "a:\n  - 1\n  - 2\nb: x\n", {"a": [1, 2], "b": "x"}),
        ("yaml", "", None),
        ("toml", 'a = 1\n[db]\nhost = "h"\n', {"a": 1, "db": {"host": "h"}}),
        ("properties", "a=1\nb = two\n", {"a": "1", "b": "two"}),
        ("text", "anything {{ at all: [", "anything {{ at all: ["),
    ],
)
def test_parse_document_valid(fmt: Any, content: str, expected: Any) -> None:
    assert parse_document(fmt, content) == expected
    validate_content(fmt, content, None)


# --- parsing: invalid documents with positions ----------------------------------------


@pytest.mark.parametrize(
    ("fmt", "content", "line", "column"),
    [
        ("json", '{"a": 1,\n "b": }', 2, 7),
        ("json", "", 1, 1),
        ("yaml", "a: 1\nb: [1,\n", 3, 1),
        ("yaml", "a: 1\n  b: 2\n", 2, 4),
        ("yaml", "a: 1\n---\nb: 2\n", 2, 1),  # multi-document streams are refused
        ("yaml", "a: b\nc: \x01\n", 2, 4),
        ("toml", "a = 1\nb = \n", 2, 5),
        ("toml", "a = [1,", 1, 8),
        ("properties", "a=1\nb=x\\u12G4\n", 2, 4),
    ],
)
def test_invalid_content_reports_position(fmt: Any, content: str, line: int, column: int) -> None:
    with pytest.raises(ContentInvalid) as info:
        validate_content(fmt, content, None)
    err = info.value
    assert err.message.startswith(f"content is not valid {fmt}: ")
    assert err.details["field"] == "content"
    assert err.details["format"] == fmt
    assert (err.details["line"], err.details["column"]) == (line, column)


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("yaml", "a: 2020-13-45\n"),  # looks like a date, is not one
        ("yaml", "a: &x [*x]\n"),  # recursive alias (only fails when converted)
        ("json", "[" * 100_000),
        ("json", "1" * 5000),
        ("text", "lone surrogate \ud800"),
    ],
)
def test_invalid_content_without_position(fmt: Any, content: str) -> None:
    with pytest.raises(ContentInvalid) as info:
        validate_content(fmt, content, {"type": ["object", "array", "number"]})
    assert info.value.details["field"] == "content"
    assert info.value.details["line"] is None


def test_yaml_alias_bomb_is_refused() -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 8):
        refs = ",".join([f"*a{i - 1}"] * 10)
        lines.append(f"a{i}: &a{i} [{refs}]")
    with pytest.raises(ContentInvalid, match="more than"):
        validate_content("yaml", "\n".join(lines) + "\n", {"type": "object"})


# --- .properties ------------------------------------------------------------------------


def test_properties_separators_and_comments() -> None:
    text = "# comment\n! also comment\n\n  a = 1\nb:2\nc 3\nd\te\nempty\nf==x\ng : : y\n"
    assert parse_properties(text) == {
        "a": "1",
        "b": "2",
        "c": "3",
        "d": "e",
        "empty": "",
        "f": "=x",
        "g": ": y",
    }


def test_properties_escapes() -> None:
    text = (
        "k\\ ey\\:x = \\u0041\\t\\n\\r\\f\\=\\:\\\\\\q\nemoji=\\uD83D\\uDE00\ncase=\\u00e9\\u00E9\n"
    )
    assert parse_properties(text) == {
        "k ey:x": "A\t\n\r\f=:\\q",
        "emoji": "\U0001f600",
        "case": "éé",
    }


def test_properties_continuations() -> None:
    text = "list = a, \\\n       b, \\\n\tc\nnext=1\\\\\nlast = x\\\n"
    # An escaped backslash does not continue; a dangling final backslash is dropped.
    assert parse_properties(text) == {"list": "a, b, c", "next": "1\\", "last": "x"}


def test_properties_comment_marker_inside_continuation_is_text() -> None:
    assert parse_properties("a = 1\\\n  # not a comment\n") == {"a": "1# not a comment"}


def test_properties_comment_after_empty_continuation_is_comment() -> None:
    # Like java.util.Properties (JDK 9+): a line is a comment when nothing precedes it.
    assert parse_properties("\\\n# c = 1\nk=v\n") == {"k": "v"}


def test_properties_line_endings_and_duplicates() -> None:
    assert parse_properties("a=1\r\nb=2\rc=3\na=4") == {"a": "4", "b": "2", "c": "3"}


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("a=\\u12", 1, 3),
        ("a=1\n\nb=\\uZZZZ", 3, 3),
        ("a=ok\\\n  \\u00x1", 2, 3),
        ("a=\\uD800", 1, 3),  # unpaired surrogate
    ],
)
def test_properties_bad_unicode_escape(text: str, line: int, column: int) -> None:
    with pytest.raises(ContentInvalid) as info:
        parse_properties(text)
    assert (info.value.details["line"], info.value.details["column"]) == (line, column)
    assert info.value.details["format"] == "properties"


# --- schema validation ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "yaml", "toml"])
def test_schema_pass(fmt: Any) -> None:
    content = {
        "json": '{"db": {"pool_size": 5, "host": "h"}}',
        "yaml": "db:\n  pool_size: 5\n  host: h\n",
        "toml": '[db]\npool_size = 5\nhost = "h"\n',
    }[fmt]
    validate_content(fmt, content, POOL_SCHEMA)


@pytest.mark.parametrize("fmt", ["json", "yaml", "toml"])
def test_schema_fail_names_path(fmt: Any) -> None:
    content = {
        "json": '{"db": {"pool_size": 0}}',
        "yaml": "db:\n  pool_size: 0\n",
        "toml": "[db]\npool_size = 0\n",
    }[fmt]
    with pytest.raises(SchemaViolation) as info:
        validate_content(fmt, content, POOL_SCHEMA)
    details = info.value.details
    assert details["field"] == "content"
    assert details["path"] == "/db/pool_size"
    assert details["schema_path"] == "/properties/db/properties/pool_size/minimum"
    assert details["errors"] == ["/db/pool_size: 0 is less than the minimum of 1"]
    assert "/db/pool_size" in info.value.message


def test_schema_errors_are_capped_and_root_path_is_empty() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "string"}}
    body = "{" + ",".join(f'"k{i}": {i}' for i in range(25)) + "}"
    with pytest.raises(SchemaViolation) as info:
        validate_content("json", body, schema)
    assert len(info.value.details["errors"]) == formats.MAX_SCHEMA_ERRORS
    with pytest.raises(SchemaViolation) as root:
        validate_content("json", "[]", schema)
    assert root.value.details["path"] == ""
    assert root.value.details["schema_path"] == "/type"


def test_pointer_escapes_slash_and_tilde() -> None:
    schema = {"type": "object", "properties": {"a/b~c": {"type": "string"}}}
    with pytest.raises(SchemaViolation) as info:
        validate_content("json", '{"a/b~c": 1}', schema)
    assert info.value.details["path"] == "/a~1b~0c"


@pytest.mark.parametrize(
    ("fmt", "content"),
    [
        ("yaml", "when: 2024-01-02\nat: 2024-01-02T03:04:05Z\n"),
        ("toml", "when = 2024-01-02\nat = 2024-01-02T03:04:05Z\n"),
    ],
)
def test_dates_validate_as_strings(fmt: Any, content: str) -> None:
    schema = {
        "type": "object",
        "properties": {"when": {"type": "string"}, "at": {"type": "string"}},
        "required": ["when", "at"],
    }
    validate_content(fmt, content, schema)
    with pytest.raises(SchemaViolation):
        validate_content(fmt, content, {"properties": {"when": {"type": "integer"}}})


def test_yaml_non_string_keys_become_json_keys() -> None:
    schema = {"type": "object", "properties": {"1": {"type": "string"}}, "required": ["1"]}
    validate_content("yaml", "1: one\n", schema)


def test_schema_ignored_for_unstructured_formats() -> None:
    validate_content("properties", "a=1", {"type": "integer"})
    validate_content("text", "x", {"type": "integer"})


def test_unresolvable_ref_is_invalid_schema() -> None:
    with pytest.raises(InvalidSchema) as info:
        validate_content("json", "1", {"$ref": "#/$defs/missing"})
    assert info.value.details["field"] == "schema"


def test_compiled_validator_is_cached() -> None:
    compiled_validator.cache_clear()
    schema = {"type": "object", "properties": {"x": {"type": "integer"}}}
    same_schema_other_order = {"properties": {"x": {"type": "integer"}}, "type": "object"}
    validate_content("json", '{"x": 1}', schema)
    validate_content("json", '{"x": 2}', same_schema_other_order)
    info = compiled_validator.cache_info()
    assert (info.misses, info.hits) == (1, 1)


# --- check_schema -----------------------------------------------------------------------


def test_check_schema_accepts_valid_and_none() -> None:
    check_schema("json", POOL_SCHEMA)
    check_schema("yaml", {})
    check_schema("text", None)
    check_schema("properties", None)


@pytest.mark.parametrize(
    ("fmt", "schema", "needle"),
    [
        ("text", {"type": "object"}, "only allowed for structured formats"),
        ("properties", {}, "only allowed for structured formats"),
        ("json", [], "must be a JSON object"),
        ("json", "object", "must be a JSON object"),
        ("json", True, "must be a JSON object"),
        ("json", {"type": "nope"}, "not a valid JSON Schema"),
        ("toml", {"minimum": "1"}, "not a valid JSON Schema"),
        ("yaml", {"pattern": "("}, "not a valid JSON Schema"),
    ],
)
def test_check_schema_rejects(fmt: Any, schema: object, needle: str) -> None:
    with pytest.raises(InvalidSchema) as info:
        check_schema(fmt, schema)
    assert needle in info.value.message
    assert info.value.details["field"] == "schema"


def test_check_schema_error_names_path() -> None:
    with pytest.raises(InvalidSchema) as info:
        check_schema("json", {"properties": {"a": {"type": 5}}})
    assert info.value.details["path"] == "/properties/a/type"


# --- hashes -----------------------------------------------------------------------------


def test_content_sha() -> None:
    assert content_sha("é") == hashlib.sha256("é".encode()).hexdigest()
    assert content_sha("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_schema_sha_is_canonical() -> None:
    assert schema_sha(None) == ""
    expected = hashlib.sha256(b'{"a":{"c":1,"d":2},"b":[1,2]}').hexdigest()
    assert schema_sha({"b": [1, 2], "a": {"d": 2, "c": 1}}) == expected
    assert schema_sha({"a": 1}) != schema_sha({"a": 2})
