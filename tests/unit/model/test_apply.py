"""Unit tests for conflux_node.model.apply over a MemoryStore, plus command encoding."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from conflux_node.model import commands, keys
from conflux_node.model.apply import Effects, apply
from conflux_node.model.commands import (
    Command,
    CreateTenant,
    CreateVersion,
    DeleteConfig,
    PutConfig,
    SetRelease,
)
from conflux_node.model.entities import (
    ConfigSpec,
    Match,
    ReleaseSpec,
    Retention,
    Rule,
)
from conflux_node.model.errors import (
    ConfigNotFound,
    Conflict,
    ReleaseVersionMissing,
    RevisionMismatch,
)
from conflux_node.model.names import Coords
from conflux_node.model.view import read_config, read_release, read_version
from conflux_node.storage.memory import MemoryStore

C = Coords("acme", "shop", "prod", "db")
OTHER = Coords("acme", "shop", "prod", "db2")  # shares the text prefix "db" with C
T0 = "2026-01-01T00:00:00.000+00:00"
T1 = "2026-01-02T00:00:00.000+00:00"
T2 = "2026-01-03T00:00:00.000+00:00"
SCHEMA_SHA = "schema-sha-1"


def state_writes(effects: Effects) -> tuple[tuple[bytes, bytes | None], ...]:
    """The command's own writes, without the audit record every command appends."""
    return tuple((k, v) for k, v in effects.writes if not _is_audit(k))


def _is_audit(key: bytes) -> bool:
    return key.startswith(keys.AUDIT_PREFIX) or key == keys.AUDIT_SEQ


class Harness:
    """A MemoryStore plus a Raft-like index: every command is applied then written.

    Config writes need their tenant, so the tenants named are created first.
    """

    def __init__(self, tenants: Sequence[str] = (C.tenant,)) -> None:
        self.store = MemoryStore()
        self.index = 0
        for name in tenants:
            assert self.run(CreateTenant(name, "root", T0)).ok

    def run(self, command: Command) -> Effects:
        effects = apply(self.store, command)
        self.index += 1
        self.store.write(effects.writes, self.index)
        return effects

    def dump(self) -> list[tuple[bytes, bytes]]:
        return sorted(self.store.scan(b""))

    def state(self) -> list[tuple[bytes, bytes]]:
        """The store without audit records and the applied index."""
        return [kv for kv in self.dump() if not _is_audit(kv[0]) and kv[0] != b"m/applied_index"]

    def versions(self, coords: Coords = C) -> list[int]:
        return [keys.number_of(k) for k, _ in self.store.scan(keys.versions_prefix(coords))]


def put(
    coords: Coords = C,
    fmt: Any = "json",
    *,
    now: str = T0,
    retention: Retention | None = None,
    labels: dict[str, str] | None = None,
    schema_sha: str = SCHEMA_SHA,
) -> PutConfig:
    spec = ConfigSpec(
        format=fmt,
        labels=labels or {},
        retention=retention or Retention(),
    )
    return PutConfig(coords, spec, schema_sha, "alice", now)


def version(
    content: str,
    coords: Coords = C,
    *,
    now: str = T0,
    schema_sha: str = SCHEMA_SHA,
) -> CreateVersion:
    return CreateVersion(
        coords, content, f"sha-{content}", f"msg {content}", schema_sha, "bob", now
    )


def release(
    default: int,
    rules: Sequence[Rule] = (),
    *,
    expected: int | None = None,
    coords: Coords = C,
    now: str = T0,
) -> SetRelease:
    return SetRelease(coords, ReleaseSpec(tuple(rules), default, "go"), expected, "carol", now)


def day(n: int, year: int = 2026) -> str:
    return f"{year}-01-{n:02d}T00:00:00.000+00:00"


@pytest.fixture
def h() -> Harness:
    return Harness()


# --- put_config ---------------------------------------------------------------------


def test_put_config_creates(h: Harness) -> None:
    effects = h.run(put())
    assert effects.ok
    assert effects.result["created"] is True
    assert effects.result["config"]["incarnation"] == 1
    assert effects.result["config"]["latest_version"] == 0
    assert effects.result["config"]["release_revision"] == 0
    assert dict(effects.writes)[keys.CONFIG_SEQ] == b"1"
    assert h.store.get(keys.CONFIG_SEQ) == b"1"
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.incarnation == 1
    assert meta.created_at == meta.updated_at == T0
    assert [(e.kind, e.coords, dict(e.data)) for e in effects.events] == [
        ("config_put", C, {"created": True})
    ]


def test_second_config_gets_next_incarnation(h: Harness) -> None:
    h.run(put(C))
    effects = h.run(put(OTHER))
    assert effects.result["config"]["incarnation"] == 2
    assert h.store.get(keys.CONFIG_SEQ) == b"2"


def test_put_config_update_keeps_counters(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    h.run(version("b"))
    h.run(release(1))
    effects = h.run(put(now=T2, labels={"team": "x"}))
    assert effects.ok
    assert effects.result["created"] is False
    assert keys.CONFIG_SEQ not in dict(effects.writes)
    assert h.store.get(keys.CONFIG_SEQ) == b"1"
    assert [(e.kind, dict(e.data)) for e in effects.events] == [("config_put", {"created": False})]
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.latest_version == 2
    assert meta.release_revision == 1
    assert meta.incarnation == 1
    assert meta.created_at == T0
    assert meta.updated_at == T2
    assert dict(meta.spec.labels) == {"team": "x"}
    assert effects.result["config"] == meta.to_json()


def test_format_change_allowed_before_any_version(h: Harness) -> None:
    h.run(put(fmt="json"))
    effects = h.run(put(fmt="yaml"))
    assert effects.ok
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.spec.format == "yaml"


def test_format_change_rejected_once_versions_exist(h: Harness) -> None:
    h.run(put(fmt="json"))
    h.run(version("{}"))
    before = h.dump()
    effects = apply(h.store, put(fmt="yaml", now=T1))
    assert not effects.ok
    assert isinstance(effects.result, Conflict)
    assert effects.result.details == {"field": "format"}
    assert state_writes(effects) == ()
    assert effects.events == ()
    h.store.write(effects.writes, 99)
    assert h.state() == [
        kv for kv in before if not _is_audit(kv[0]) and kv[0] != b"m/applied_index"
    ]
    # The same format is still a fine update.
    assert h.run(put(fmt="json", now=T1)).ok


# --- delete_config -------------------------------------------------------------------


def test_delete_removes_meta_versions_and_releases(h: Harness) -> None:
    h.run(put(C))
    h.run(put(OTHER))
    for content in ("a", "b"):
        h.run(version(content, C))
        h.run(version(content, OTHER))
    h.run(release(1, coords=C))
    h.run(release(2, coords=C))
    h.run(release(1, coords=OTHER))
    other_before = [kv for kv in h.dump() if b"/db2" in kv[0]]

    effects = h.run(DeleteConfig(C, "alice", T1))
    assert effects.ok
    assert effects.result == {"deleted": True}
    assert all(value is None for _, value in state_writes(effects))
    assert [(e.kind, e.coords) for e in effects.events] == [("config_deleted", C)]
    assert read_config(h.store, C) is None
    assert list(h.store.scan(keys.versions_prefix(C))) == []
    assert list(h.store.scan(keys.releases_prefix(C))) == []
    # A config whose name merely starts with the same letters is untouched.
    assert [kv for kv in h.dump() if b"/db2" in kv[0]] == other_before
    assert h.versions(OTHER) == [1, 2]


def test_delete_missing_config_is_not_found(h: Harness) -> None:
    effects = apply(h.store, DeleteConfig(C, "alice", T0))
    assert isinstance(effects.result, ConfigNotFound)
    assert effects.result.code == "config_not_found"
    assert effects.result.details == {"config": C.path}
    assert state_writes(effects) == ()
    assert effects.events == ()


def test_recreated_config_gets_new_incarnation(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    h.run(release(1))
    h.run(DeleteConfig(C, "alice", T1))
    effects = h.run(put(now=T2))
    assert effects.result["created"] is True
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.incarnation == 2
    assert meta.latest_version == 0
    assert meta.release_revision == 0
    assert meta.created_at == T2
    # Numbering starts over for the new incarnation.
    assert h.run(version("a")).result["version"] == 1


# --- create_version ------------------------------------------------------------------


def test_create_version_numbers_in_sequence(h: Harness) -> None:
    h.run(put())
    results = [h.run(version(c, now=day(i + 1))) for i, c in enumerate("abc")]
    assert [r.result["version"] for r in results] == [1, 2, 3]
    assert all(r.result["created"] is True for r in results)
    assert [r.result["sha256"] for r in results] == ["sha-a", "sha-b", "sha-c"]
    assert [(e.kind, dict(e.data)) for e in results[1].events] == [
        ("version_created", {"version": 2, "sha256": "sha-b"})
    ]
    assert h.versions() == [1, 2, 3]
    record = read_version(h.store, C, 2)
    assert record is not None
    assert (record.content, record.author, record.message, record.created_at) == (
        "b",
        "bob",
        "msg b",
        day(2),
    )
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.latest_version == 3
    assert meta.updated_at == day(3)


def test_duplicate_of_latest_is_not_created(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    h.run(version("b"))
    effects = apply(h.store, version("b", now=T2))
    assert effects.ok
    assert effects.result == {"version": 2, "sha256": "sha-b", "created": False}
    assert state_writes(effects) == ()
    assert effects.events == ()


def test_same_content_as_older_version_creates_new_version(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    h.run(version("b"))
    effects = h.run(version("a"))
    assert effects.result == {"version": 3, "sha256": "sha-a", "created": True}
    assert h.versions() == [1, 2, 3]


def test_create_version_schema_sha_mismatch_is_conflict(h: Harness) -> None:
    h.run(put(schema_sha="s1"))
    effects = apply(h.store, version("a", schema_sha="s2"))
    assert isinstance(effects.result, Conflict)
    assert state_writes(effects) == ()
    assert effects.events == ()


def test_create_version_unknown_config(h: Harness) -> None:
    effects = apply(h.store, version("a"))
    assert isinstance(effects.result, ConfigNotFound)
    assert state_writes(effects) == ()


# --- set_release ---------------------------------------------------------------------


def test_set_release_revisions_increase(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    h.run(version("b"))
    revisions = []
    for default in (1, 2, 1):
        effects = h.run(release(default, now=T1))
        assert effects.ok
        assert [(e.kind, dict(e.data)) for e in effects.events] == [
            ("release_changed", {"revision": effects.result["revision"]})
        ]
        revisions.append(effects.result["revision"])
    assert revisions == [1, 2, 3]
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.release_revision == 3
    assert meta.updated_at == T1
    stored = read_release(h.store, C, 2)
    assert stored is not None
    assert stored.spec.default_version == 2
    assert stored.author == "carol"


def test_set_release_expected_revision(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    assert h.run(release(1, expected=0)).result == {"revision": 1}
    effects = apply(h.store, release(1, expected=0))
    assert isinstance(effects.result, RevisionMismatch)
    assert effects.result.details == {"current": 1, "expected": 0}
    assert state_writes(effects) == ()
    assert effects.events == ()
    assert h.run(release(1, expected=1)).result == {"revision": 2}
    assert h.run(release(1, expected=None)).result == {"revision": 3}


def test_set_release_missing_versions(h: Harness) -> None:
    h.run(put())
    h.run(version("a"))
    rules = [
        Rule("r16", Match(client_ids=("x",)), 16),
        Rule("r3", Match(), 3),
        Rule("r1", Match(), 1),
    ]
    effects = apply(h.store, release(1, rules))
    assert isinstance(effects.result, ReleaseVersionMissing)
    # Sorted, although a set of {1, 3, 16} does not iterate in that order.
    assert effects.result.details == {"field": "version", "versions": [3, 16]}
    assert "3, 16" in effects.result.message
    assert state_writes(effects) == ()

    effects = apply(h.store, release(2))
    assert isinstance(effects.result, ReleaseVersionMissing)
    assert effects.result.details["versions"] == [2]


def test_set_release_unknown_config(h: Harness) -> None:
    effects = apply(h.store, release(1))
    assert isinstance(effects.result, ConfigNotFound)
    assert state_writes(effects) == ()


# --- retention -----------------------------------------------------------------------


def test_keep_last_drops_old_versions_but_not_released_or_latest(h: Harness) -> None:
    h.run(put(retention=Retention(keep_last=2)))
    h.run(version("v1"))
    h.run(release(1))
    for n in range(2, 6):
        h.run(version(f"v{n}"))
    assert h.versions() == [1, 4, 5]
    meta = read_config(h.store, C)
    assert meta is not None
    assert meta.latest_version == 5


def test_keep_last_one_keeps_only_the_latest(h: Harness) -> None:
    h.run(put(retention=Retention(keep_last=1)))
    for content in ("a", "b", "c"):
        h.run(version(content))
    assert h.versions() == [3]


def test_keep_last_protects_only_the_current_release(h: Harness) -> None:
    h.run(put(retention=Retention(keep_last=1)))
    h.run(version("a"))
    h.run(release(1))
    h.run(version("b"))
    assert h.versions() == [1, 2]
    h.run(release(2))  # v1 is no longer released
    h.run(version("c"))
    assert h.versions() == [2, 3]


def test_keep_last_protects_rule_versions(h: Harness) -> None:
    h.run(put(retention=Retention(keep_last=1)))
    h.run(version("a"))
    h.run(release(1))
    h.run(version("b"))
    h.run(release(2, [Rule("canary", Match(percentage=10.0), 1)]))
    h.run(version("c"))
    assert h.versions() == [1, 2, 3]  # v1 by the rule, v2 as the default
    h.run(release(3))
    h.run(version("d"))
    assert h.versions() == [3, 4]


def test_no_retention_keeps_everything(h: Harness) -> None:
    h.run(put())
    for n in range(6):
        h.run(version(f"v{n}"))
    assert h.versions() == [1, 2, 3, 4, 5, 6]


def test_keep_days_uses_the_command_time(h: Harness) -> None:
    # Years in the past: were wall-clock time used, every old version would go.
    h.run(put(retention=Retention(keep_days=7), now=day(1, 2020)))
    h.run(version("a", now=day(1, 2020)))
    h.run(version("b", now=day(5, 2020)))
    h.run(version("c", now=day(8, 2020)))  # cutoff 2020-01-01: v1 is exactly at it
    assert h.versions() == [1, 2, 3]
    h.run(version("d", now=day(10, 2020)))  # cutoff 2020-01-03: v1 is older
    assert h.versions() == [2, 3, 4]


def test_keep_days_keeps_latest_and_released(h: Harness) -> None:
    h.run(put(retention=Retention(keep_days=1)))
    h.run(version("a", now=day(1)))
    h.run(release(1, now=day(1)))
    h.run(version("b", now=day(2)))
    h.run(version("c", now=day(20)))
    # v2 is too old and not released; v1 is released; v3 is the newest.
    assert h.versions() == [1, 3]
    h.run(version("d", now=day(30)))
    assert h.versions() == [1, 4]


# --- determinism ---------------------------------------------------------------------


def _sequence() -> list[Command]:
    return [
        put(C, retention=Retention(keep_last=2)),
        put(OTHER, "yaml"),
        version("a", now=day(1)),
        version("b", now=day(2)),
        release(1, [Rule("eu", Match(labels={"region": "eu"}), 2)], now=day(2)),
        version("c", now=day(3)),
        version("c", now=day(3)),
        version("d", now=day(4)),
        version("x: 1", OTHER),
        release(9, now=day(5)),
        release(2, expected=1, now=day(5)),
        release(2, expected=1, now=day(5)),
        put(C, "yaml", now=day(6)),
        DeleteConfig(OTHER, "alice", day(6)),
        put(OTHER, "text", now=day(7)),
        version("again", OTHER, now=day(7)),
        DeleteConfig(Coords("no", "such", "env", "cfg"), "alice", day(7)),
    ]


def test_same_sequence_yields_same_store() -> None:
    first, second = Harness(), Harness()
    results = []
    for command in _sequence():
        a = first.run(command)
        b = second.run(command)
        assert a.writes == b.writes
        assert a.events == b.events
        results.append(a.ok)
    assert first.dump() == second.dump()
    assert len(first.dump()) > 5
    assert False in results and True in results  # both paths were exercised


def test_replaying_decoded_commands_yields_same_store() -> None:
    direct, decoded = Harness(), Harness()
    for command in _sequence():
        direct.run(command)
        decoded.run(commands.decode(commands.encode(command)))
    assert direct.dump() == decoded.dump()


# --- command encoding ----------------------------------------------------------------

ROUND_TRIP: list[Command] = [
    PutConfig(
        C,
        ConfigSpec(
            format="json",
            schema={"type": "object", "properties": {"a": {"type": "integer"}}},
            labels={"team": "payments"},
            retention=Retention(keep_last=3, keep_days=30),
            encrypted=True,
        ),
        "schema-sha",
        "alice",
        T0,
    ),
    PutConfig(C, ConfigSpec(format="text"), "", "alice", T0),
    DeleteConfig(C, "alice", T1),
    CreateVersion(C, 'héllo: "wörld" ✓\n', "abc123", "first \u2013 try", "ss", "bob", T2),
    SetRelease(
        C,
        ReleaseSpec(
            rules=(
                Rule(
                    "canary",
                    Match(
                        labels={"zone": "a"},
                        ip_cidrs=("10.0.0.0/8", "::1/128"),
                        client_ids=("c1", "c2"),
                        percentage=12.5,
                    ),
                    2,
                ),
                Rule("all", Match(), 1),
            ),
            default_version=1,
            message="roll",
        ),
        3,
        "carol",
        T0,
    ),
    SetRelease(C, ReleaseSpec((), 4), None, "carol", T0),
]


@pytest.mark.parametrize("command", ROUND_TRIP, ids=lambda c: type(c).__name__)
def test_encode_decode_round_trip(command: Command) -> None:
    payload = commands.encode(command)
    assert isinstance(payload, bytes)
    decoded = commands.decode(payload)
    assert type(decoded) is type(command)
    assert decoded == command
    assert commands.encode(decoded) == payload


def test_encode_names_the_op() -> None:
    ops = [json.loads(commands.encode(c))["op"] for c in ROUND_TRIP]
    assert ops == [
        "put_config",
        "put_config",
        "delete_config",
        "create_version",
        "set_release",
        "set_release",
    ]


def test_decode_unknown_op() -> None:
    payload = json.dumps(
        {"op": "drop_table", "coords": C.to_json(), "actor": "a", "now": T0}
    ).encode()
    with pytest.raises(ValueError, match="drop_table"):
        commands.decode(payload)
