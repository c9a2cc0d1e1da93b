"""conflux.formats: the shared .properties parser and parse_document."""

from __future__ import annotations

import datetime as dt

import pytest

from conflux.formats import FormatError, parse_document, parse_properties


def test_properties_java_rules() -> None:
    text = "# c\n! c\na=1\nb : two\nc three\nd\\ e=f\nlist = a, \\\n    b\nu=\\u00e9\\t\n"
    assert parse_properties(text) == {
        "a": "1",
        "b": "two",
        "c": "three",
        "d e": "f",
        "list": "a, b",
        "u": "é\t",
    }


@pytest.mark.parametrize(
    ("text", "message", "line", "column"),
    [
        ("a=1\nb=x\\u12G4\n", "malformed \\uXXXX escape", 2, 4),
        ("a=\\uD800", "unpaired surrogate in \\u escape", 1, 3),
    ],
)
def test_properties_errors_carry_positions(text: str, message: str, line: int, column: int) -> None:
    with pytest.raises(FormatError) as info:
        parse_properties(text)
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.message, error.line, error.column) == (message, line, column)
    assert str(error) == f"{message} (line {line}, column {column})"


@pytest.mark.parametrize(
    ("fmt", "content", "expected"),
    [
        ("json", '{"a": {"b": [1, 2]}}', {"a": {"b": [1, 2]}}),
        ("yaml", "a:\n  b: 2024-01-02\n", {"a": {"b": dt.date(2024, 1, 2)}}),
        ("toml", "[a]\nb = 1.5\n", {"a": {"b": 1.5}}),
        ("properties", "a.b=1", {"a.b": "1"}),
        ("text", "{not: json", "{not: json"),
    ],
)
def test_parse_document(fmt: str, content: str, expected: object) -> None:
    assert parse_document(fmt, content) == expected


@pytest.mark.parametrize(
    ("fmt", "content", "line", "column"),
    [
        ("json", '{"a": 1,\n "b": }', 2, 7),
        ("yaml", "a: 1\n  b: 2\n", 2, 4),
        ("toml", "a = 1\nb = \n", 2, 5),
        ("properties", "a=\\u12", 1, 3),
    ],
)
def test_parse_document_errors(fmt: str, content: str, line: int, column: int) -> None:
    with pytest.raises(FormatError) as info:
        parse_document(fmt, content)
    assert (info.value.line, info.value.column) == (line, column)


def test_unknown_format_and_deep_nesting() -> None:
    with pytest.raises(FormatError, match="unknown format 'xml'"):
        parse_document("xml", "<a/>")
    with pytest.raises(FormatError, match="nested too deeply"):
        parse_document("json", "[" * 100_000 + "]" * 100_000)
