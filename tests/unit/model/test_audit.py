"""Unit tests for the audit log: one record per applied command, its reader, and the
wire form and determinism of the identity commands."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from conflux_node.model import audit, commands, keys
from conflux_node.model.apply import apply
from conflux_node.model.audit import AuditRecord, audit_record, list_audit, redact
from conflux_node.model.commands import (
    BindRole,
    Bootstrap,
    Command,
    CreateApiKey,
    CreateTenant,
    CreateUser,
    DeleteConfig,
    DeleteTenant,
    DeleteUser,
    RecordDenial,
    RevokeApiKey,
    SetPassword,
    SetRelease,
    UnbindRole,
)
from conflux_node.model.entities import ReleaseSpec
from conflux_node.model.errors import InvalidInput
from conflux_node.model.names import Coords
from tests.unit.model.support import (
    ADMIN_HASH,
    ALICE_HASH,
    JWT_KEY,
    NEW_HASH,
    SECRET_HASH,
    T0,
    T1,
    T2,
    C,
    Harness,
    api_key,
    bind,
    bootstrap,
    create_version,
    put_config,
    tenant,
    user,
)

CONTENT = '{"db_password": "content-that-must-stay-out-of-audit"}'

# Every command type, successes and rejections mixed, with the record each must leave:
# (command, action, target, tenant, outcome).
SCRIPT: list[tuple[Command, str, str, str | None, str]] = [
    (bootstrap("admin"), "bootstrap", "user/admin", None, "ok"),
    (bootstrap("admin"), "bootstrap", "user/admin", None, "ok"),
    (tenant("acme"), "create_tenant", "tenant/acme", "acme", "ok"),
    (tenant("acme"), "create_tenant", "tenant/acme", "acme", "rejected:conflict"),
    (user("alice"), "create_user", "user/alice", None, "ok"),
    (SetPassword("alice", NEW_HASH, "alice", T1), "set_password", "user/alice", None, "ok"),
    (bind("acme", "alice"), "bind_role", "binding/acme/alice", "acme", "ok"),
    (bind("acme", "ghost"), "bind_role", "binding/acme/ghost", "acme", "rejected:user_not_found"),
    (api_key("k1"), "create_api_key", "apikey/k1", "acme", "ok"),
    (put_config(C), "put_config", C.path, "acme", "ok"),
    (create_version(CONTENT), "create_version", C.path, "acme", "ok"),
    (
        SetRelease(C, ReleaseSpec((), 1), None, "carol", T1),
        "set_release",
        C.path,
        "acme",
        "ok",
    ),
    (
        SetRelease(C, ReleaseSpec((), 7), None, "carol", T1),
        "set_release",
        C.path,
        "acme",
        "rejected:release_version_missing",
    ),
    (
        RecordDenial("mallory", "create_version", C.path, "acme", T1, {"method": "POST"}),
        "create_version",
        C.path,
        "acme",
        "denied",
    ),
    (
        DeleteTenant("acme", "admin", T1),
        "delete_tenant",
        "tenant/acme",
        "acme",
        "rejected:conflict",
    ),
    (DeleteConfig(C, "alice", T1), "delete_config", C.path, "acme", "ok"),
    (RevokeApiKey("k1", "acme", "admin", T2), "revoke_api_key", "apikey/k1", "acme", "ok"),
    (
        RevokeApiKey("k1", "other", "admin", T2),
        "revoke_api_key",
        "apikey/k1",
        "other",
        "rejected:apikey_not_found",
    ),
    (UnbindRole("acme", "alice", "admin", T2), "unbind_role", "binding/acme/alice", "acme", "ok"),
    (DeleteUser("alice", "admin", T2), "delete_user", "user/alice", None, "ok"),
    (
        DeleteUser("alice", "admin", T2),
        "delete_user",
        "user/alice",
        None,
        "rejected:user_not_found",
    ),
    (DeleteTenant("acme", "admin", T2), "delete_tenant", "tenant/acme", "acme", "ok"),
    (tenant("Bad/Name"), "create_tenant", "tenant/Bad/Name", "Bad/Name", "rejected:invalid_name"),
]


def records(h: Harness) -> list[AuditRecord]:
    return [AuditRecord.from_json(json.loads(v)) for _, v in h.store.scan(keys.AUDIT_PREFIX)]


@pytest.fixture
def scripted() -> Harness:
    h = Harness()
    for command, *_ in SCRIPT:
        h.run(command)
    return h


def test_every_command_leaves_one_record(scripted: Harness) -> None:
    got = [(r.action, r.target, r.tenant, r.outcome) for r in records(scripted)]
    assert got == [tuple(row[1:]) for row in SCRIPT]
    for record, (command, *_) in zip(records(scripted), SCRIPT, strict=True):
        assert (record.actor, record.time) == (command.actor, command.now)


def test_sequence_is_dense_and_increasing(scripted: Harness) -> None:
    seqs = [r.seq for r in records(scripted)]
    assert seqs == list(range(1, len(SCRIPT) + 1))
    assert scripted.store.get(keys.AUDIT_SEQ) == str(len(SCRIPT)).encode()
    # Keys sort by sequence past the 9 -> 10 boundary too.
    assert [k for k, _ in scripted.store.scan(keys.AUDIT_PREFIX)] == [
        keys.audit_key(n) for n in seqs
    ]


def test_record_details(scripted: Harness) -> None:
    by_seq = {r.seq: r for r in records(scripted)}
    assert dict(by_seq[1].details) == {"bootstrapped": True}
    assert dict(by_seq[2].details) == {"bootstrapped": False}
    assert dict(by_seq[5].details) == {"system_admin": False, "created": True}
    assert dict(by_seq[7].details) == {"role": "editor", "created": True}
    assert dict(by_seq[9].details) == {
        "name": "svc",
        "role": "client",
        "expires_at": None,
        "created": True,
    }
    assert dict(by_seq[11].details) == {"version": 1, "created": True}
    assert dict(by_seq[12].details) == {
        "default_version": 1,
        "rules": [],
        "expected_revision": None,
        "revision": 1,
    }
    assert dict(by_seq[14].details) == {"method": "POST"}
    assert dict(by_seq[19].details) == {"deleted": True, "role": "editor"}
    assert dict(by_seq[22].details) == {
        "deleted": True,
        "removed_bindings": 0,
        "removed_api_keys": 1,
    }


def test_no_secret_reaches_an_audit_record(scripted: Harness) -> None:
    raw = b"\n".join(v for _, v in scripted.store.scan(keys.AUDIT_PREFIX))
    assert raw.count(b'"seq"') == len(SCRIPT)
    secrets = (ADMIN_HASH, ALICE_HASH, NEW_HASH, SECRET_HASH, JWT_KEY, CONTENT, "sha-")
    for secret in secrets:
        assert secret.encode() not in raw, secret
    assert b"argon2" not in raw
    # ...while the state itself does hold them, so the search could find them.
    everything = b"\n".join(v for _, v in scripted.store.scan(b""))
    assert JWT_KEY.encode() in everything
    assert ADMIN_HASH.encode() in everything


def test_rejection_writes_only_its_record() -> None:
    h = Harness()
    effects = apply(h.store, DeleteUser("ghost", "root", T0))
    assert not effects.ok
    assert [k for k, _ in effects.writes] == [keys.audit_key(1), keys.AUDIT_SEQ]
    record = json.loads(dict(effects.writes)[keys.audit_key(1)] or b"")
    assert record["outcome"] == "rejected:user_not_found"


def test_denial_is_recorded_with_credentials_redacted() -> None:
    h = Harness()
    h.run(tenant())
    details = {
        "method": "DELETE",
        "headers": {"Authorization": "Bearer abc.def", "X-Api-Key": "cfx_k1_s3cret"},
        "forwarded": "Basic dXNlcjpwdw==",
        "password": "hunter2",
        "key_id": "k1",
    }
    effects = h.run(RecordDenial("mallory", "delete_tenant", "tenant/acme", "acme", T1, details))
    assert effects.ok
    assert effects.result == {"seq": 2}
    assert effects.events == ()
    assert [k for k, _ in effects.writes] == [keys.audit_key(2), keys.AUDIT_SEQ]
    record = audit_record(h.store, 2)
    assert record is not None
    assert (record.outcome, record.actor, record.target) == ("denied", "mallory", "tenant/acme")
    assert dict(record.details) == {
        "method": "DELETE",
        "headers": {"Authorization": audit.REDACTED, "X-Api-Key": audit.REDACTED},
        "forwarded": audit.REDACTED,
        "password": audit.REDACTED,
        "key_id": "k1",
    }
    raw = h.store.get(keys.audit_key(2)) or b""
    for secret in (b"abc.def", b"s3cret", b"hunter2", b"dXNlcjpwdw"):
        assert secret not in raw
    assert redact({}) == {}


def test_denial_with_malformed_details_is_rejected_but_recorded() -> None:
    h = Harness()
    bad = RecordDenial("mallory", "x", "y", None, T0, ["not", "a", "dict"])  # type: ignore[arg-type]
    effects = h.run(bad)
    assert isinstance(effects.result, InvalidInput)
    record = audit_record(h.store, 1)
    assert record is not None
    assert record.outcome == "rejected:invalid_input"


# --- list_audit ----------------------------------------------------------------------


def test_list_audit_filters(scripted: Harness) -> None:
    page = list_audit(scripted.store, limit=100)
    assert [r.seq for r in page.records] == list(range(1, len(SCRIPT) + 1))
    assert page.next_after_seq is None

    acme = list_audit(scripted.store, tenant="acme", limit=100).records
    assert acme and all(r.tenant == "acme" for r in acme)
    assert len(acme) == sum(1 for row in SCRIPT if row[3] == "acme")

    mallory = list_audit(scripted.store, actor="mallory", limit=100).records
    assert [(r.action, r.outcome) for r in mallory] == [("create_version", "denied")]

    since = datetime(2026, 1, 3, tzinfo=UTC)
    late = list_audit(scripted.store, since=since, limit=100).records
    assert late and all(r.time == T2 for r in late)
    assert len(late) == sum(1 for row in SCRIPT if row[0].now == T2)

    both = list_audit(scripted.store, tenant="acme", actor="admin", since=since, limit=100)
    assert [r.action for r in both.records] == [
        "revoke_api_key",
        "unbind_role",
        "delete_tenant",
    ]


def test_list_audit_pages_with_a_cursor(scripted: Harness) -> None:
    seen: list[int] = []
    after: int | None = None
    for _ in range(len(SCRIPT)):
        page = list_audit(scripted.store, after_seq=after, limit=5)
        seen.extend(r.seq for r in page.records)
        after = page.next_after_seq
        if after is None:
            break
        assert len(page.records) == 5
    assert seen == list(range(1, len(SCRIPT) + 1))


def test_list_audit_stops_at_its_scan_budget(
    scripted: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(audit, "SCAN_BUDGET", 4)
    page = list_audit(scripted.store, actor="mallory", limit=10)
    assert page.records == ()
    assert page.next_after_seq == 4
    found: list[AuditRecord] = []
    after: int | None = page.next_after_seq
    while after is not None:
        page = list_audit(scripted.store, actor="mallory", after_seq=after, limit=10)
        found.extend(page.records)
        after = page.next_after_seq
    assert [r.actor for r in found] == ["mallory"]


def test_list_audit_on_an_empty_store() -> None:
    page = list_audit(Harness().store, limit=10)
    assert (page.records, page.next_after_seq) == ((), None)


@pytest.mark.parametrize("limit", [0, -1, audit.MAX_PAGE + 1])
def test_list_audit_checks_the_limit(limit: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        list_audit(Harness().store, limit=limit)
    assert caught.value.details == {"field": "limit"}


def test_list_audit_refuses_a_naive_since() -> None:
    with pytest.raises(InvalidInput) as caught:
        list_audit(Harness().store, since=datetime(2026, 1, 1), limit=10)
    assert caught.value.details == {"field": "since"}


# --- wire form and determinism -------------------------------------------------------

NEW_COMMANDS: list[Command] = [
    CreateTenant("acme", "root", T0),
    DeleteTenant("acme", "root", T0),
    CreateUser("alice", ALICE_HASH, True, "root", T0),
    DeleteUser("alice", "root", T0),
    SetPassword("alice", NEW_HASH, "alice", T1),
    BindRole("acme", "alice", "tenant-admin", "root", T1),
    UnbindRole("acme", "alice", "root", T1),
    CreateApiKey("k1", "acme", "svc", "client", SECRET_HASH, T2, "root", T1),
    CreateApiKey("k2", "acme", "svc", "viewer", SECRET_HASH, None, "root", T1),
    RevokeApiKey("k1", "acme", "root", T2),
    Bootstrap("admin", ADMIN_HASH, JWT_KEY, "system", T0),
    RecordDenial("mallory", "get_config", C.path, "acme", T2, {"n": 1, "x": {"é": ["✓"]}}),
    RecordDenial("mallory", "list_users", "users", None, T2),
]


@pytest.mark.parametrize("command", NEW_COMMANDS, ids=lambda c: type(c).__name__)
def test_encode_decode_round_trip(command: Command) -> None:
    payload = commands.encode(command)
    decoded = commands.decode(payload)
    assert type(decoded) is type(command)
    assert decoded == command
    assert commands.encode(decoded) == payload
    assert json.loads(payload)["op"] == commands.op_of(command)


def test_decode_unknown_op_without_coords() -> None:
    with pytest.raises(ValueError, match="grant_everything"):
        commands.decode(b'{"op":"grant_everything","actor":"x"}')


def _mixed() -> list[Command]:
    return [*(row[0] for row in SCRIPT), *NEW_COMMANDS, put_config(Coords("a", "b", "c", "d"))]


def test_same_commands_yield_identical_stores() -> None:
    first, second, decoded = Harness(), Harness(), Harness()
    for command in _mixed():
        a, b = first.run(command), second.run(command)
        assert a.writes == b.writes
        decoded.run(commands.decode(commands.encode(command)))
    assert first.dump() == second.dump() == decoded.dump()
    assert len(records(first)) == len(_mixed())
