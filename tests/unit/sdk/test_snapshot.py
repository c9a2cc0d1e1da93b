"""Typed getters, key rules per format, errors, live views and changed keys."""

from __future__ import annotations

from typing import Any

import pytest

from conflux.snapshot import (
    ConfigKeyError,
    ConfigTypeError,
    ConfigView,
    Snapshot,
    changed_keys,
)

DOCS = {
    "json": '{"db": {"pool_size": 10, "ratio": 0.5, "enabled": true, "host": "h", "tags": ["a"]}}',
    "yaml": "db:\n  pool_size: 10\n  ratio: 0.5\n  enabled: true\n  host: h\n  tags: [a]\n",
    "toml": '[db]\npool_size = 10\nratio = 0.5\nenabled = true\nhost = "h"\ntags = ["a"]\n',
}


def snap(fmt: str, content: str, version: int = 1) -> Snapshot:
    return Snapshot("cfg", version, 1, f"sha-{version}-{content}", fmt, content)


@pytest.mark.parametrize("fmt", sorted(DOCS))
def test_typed_getters_with_dotted_keys(fmt: str) -> None:
    s = snap(fmt, DOCS[fmt])
    assert s.get_int("db.pool_size") == 10
    assert s.get_float("db.ratio") == 0.5
    assert s.get_float("db.pool_size") == 10.0
    assert s.get_bool("db.enabled") is True
    assert s.get_string("db.host") == "h"
    assert s.get_string("db.pool_size") == "10"
    assert s.get_json("db.tags") == ["a"]
    assert s.get_string("db.tags.0") == "a"
    assert s.get_json()["db"]["host"] == "h"
    assert s.get_int("db.missing", default=3) == 3
    assert s.get_int("db.missing", None) is None
    with pytest.raises(ConfigKeyError) as info:
        s.get_int("db.missing")
    assert isinstance(info.value, KeyError)
    assert str(info.value) == "config 'cfg' has no key 'db.missing'"
    with pytest.raises(ConfigTypeError) as wrong:
        s.get_int("db.host")
    assert isinstance(wrong.value, TypeError) and isinstance(wrong.value, ValueError)
    assert str(wrong.value) == "config 'cfg': key 'db.host' is not an integer: 'h'"
    with pytest.raises(ConfigTypeError, match="is not a boolean"):
        s.get_bool("db.ratio")
    with pytest.raises(ConfigTypeError, match="is not an integer: True"):
        s.get_int("db.enabled")
    with pytest.raises(ConfigTypeError, match="is not a string"):
        s.get_string("db")


def test_properties_use_plain_keys_and_parse_strings() -> None:
    s = snap("properties", "db.pool.size=12\nratio = 2.5\nflag=YES\noff=off\nname=x\n")
    assert s.get_int("db.pool.size") == 12
    assert s.get_float("ratio") == 2.5
    assert s.get_bool("flag") is True and s.get_bool("off") is False
    assert s.get_json() == {
        "db.pool.size": "12",
        "ratio": "2.5",
        "flag": "YES",
        "off": "off",
        "name": "x",
    }
    with pytest.raises(ConfigTypeError) as info:
        s.get_int("ratio")
    assert (info.value.key, info.value.expected, info.value.value) == ("ratio", "an integer", "2.5")
    with pytest.raises(ConfigTypeError, match="'name' is not a boolean: 'x'"):
        s.get_bool("name")
    assert s.get_int("db", default=-1) == -1  # no nesting in properties


@pytest.mark.parametrize(
    ("word", "expected"),
    [(w, True) for w in ("true", "TRUE", "yes", "1", "on")]
    + [(w, False) for w in ("false", "No", "0", "off")],
)
def test_bool_words(word: str, expected: bool) -> None:
    assert snap("properties", f"k={word}").get_bool("k") is expected


def test_text_has_only_the_whole_content() -> None:
    s = snap("text", "hello\nworld")
    assert s.get_string(None) == "hello\nworld" == s.raw
    assert s.get_string("x", default="d") == "d"


def test_keys_holding_dots_nulls_and_copies() -> None:
    s = snap("json", '{"a.b": {"c": 1}, "n": null, "list": [{"x": 2}]}')
    assert s.get_int("a.b.c") == 1
    assert s.get_int("list.0.x") == 2
    assert s.get_int("list.5.x", default=0) == 0
    assert s.get_int("n", default=4) == 4
    with pytest.raises(ConfigTypeError, match="is not an integer: None"):
        s.get_int("n")
    tree = s.get_json("list")
    tree.append("mutated")
    assert s.get_json("list") == [{"x": 2}]


def test_changed_keys() -> None:
    old = snap("json", '{"db": {"size": 1, "host": "h"}, "gone": 1, "same": [1]}')
    new = snap("json", '{"db": {"size": 2, "host": "h"}, "added": {"k": 1}, "same": [1]}', 2)
    assert changed_keys(old, new) == {"db", "db.size", "gone", "added", "added.k"}
    assert changed_keys(None, new) == {"db", "db.size", "db.host", "added", "added.k", "same"}
    assert changed_keys(new, None) == changed_keys(None, new)
    props = changed_keys(snap("properties", "a=1\nb=2"), snap("properties", "a=1\nb=3\nc=4", 2))
    assert props == {"b", "c"}
    assert changed_keys(snap("text", "a"), snap("text", "b", 2)) == frozenset()


def test_live_view_follows_the_current_snapshot() -> None:
    current: list[Snapshot | None] = [None]
    view = ConfigView("cfg", lambda: current[0])
    assert not view.available and view.version is None and view.raw is None
    assert view.get_int("a", default=1) == 1
    with pytest.raises(ConfigKeyError, match="not available"):
        view.get_int("a")
    current[0] = snap("json", '{"a": 5}', 3)
    assert view.get_int("a") == 5 and view.version == 3 and view.format == "json"
    assert view.sha256 == 'sha-3-{"a": 5}' and view.raw == '{"a": 5}'
    current[0] = snap("json", '{"a": 6}', 4)
    assert view.get_int("a") == 6


def test_unparseable_content_raises_on_read() -> None:
    s = snap("json", "{broken")
    assert s.error is not None
    with pytest.raises(ValueError, match="line 1"):
        s.get_int("a", default=1)
    assert changed_keys(s, snap("json", '{"a": 1}')) == {"a"}


def test_snapshot_equality_ignores_parsed_document() -> None:
    a: Any = snap("json", '{"a": 1}')
    assert a == snap("json", '{"a": 1}') and hash(a) == hash(snap("json", '{"a": 1}'))
