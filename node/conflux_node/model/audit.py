"""The audit log: one replicated record per applied command, and its pure reader.

The record is written in the same batch as the command's own writes, so a change and
its record cannot come apart, and every replica holds the same log. Rejections are
recorded too (with no other writes), and the edge records its 403s through
`RecordDenial`. Details are built from an allow-list of fields: hashes, the JWT key
and config content never reach a record.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conflux_node.model import keys
from conflux_node.model.audit_retention import plan_audit_prune
from conflux_node.model.commands import (
    BindRole,
    Bootstrap,
    Command,
    CreateApiKey,
    CreateTenant,
    CreateUser,
    CreateVersion,
    DeleteConfig,
    DeleteTenant,
    DeleteUser,
    PutConfig,
    RecordDenial,
    RevokeApiKey,
    SetAuditRetention,
    SetPassword,
    SetRelease,
    UnbindRole,
    op_of,
)
from conflux_node.model.effects import Effects, Write
from conflux_node.model.errors import ConfluxError, InvalidInput
from conflux_node.model.identity import parse_time
from conflux_node.model.view import StateView, dump

MAX_PAGE = 1000
SCAN_BUDGET = 10_000
"""Records one `list_audit` call examines at most, so a filter that matches rarely
costs a bounded read; the page's cursor lets the caller continue."""

# Result fields worth keeping; anything else a result holds (metadata, sha256s) is not.
_RESULT_FIELDS = (
    "created",
    "deleted",
    "version",
    "revision",
    "role",
    "revoked",
    "bootstrapped",
    "removed_bindings",
    "removed_api_keys",
)
_SENSITIVE = (
    "password",
    "secret",
    "token",
    "hash",
    "authorization",
    "cookie",
    "jwt",
    "credential",
    "api-key",
    "api_key",
    "apikey",
)
_SCHEMES = ("bearer ", "basic ")  # an Authorization value copied under another name
REDACTED = "[redacted]"


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    time: str
    actor: str
    action: str
    target: str
    tenant: str | None  # the tenant the target lives in, for `?tenant=`; None if global
    outcome: str  # ok | rejected:<code> | denied
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        # Spelled out: `dataclasses.asdict` deep-copies, and this runs on every apply.
        return {
            "seq": self.seq,
            "time": self.time,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "tenant": self.tenant,
            "outcome": self.outcome,
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AuditRecord:
        return cls(
            seq=data["seq"],
            time=data["time"],
            actor=data["actor"],
            action=data["action"],
            target=data["target"],
            tenant=data.get("tenant"),
            outcome=data["outcome"],
            details=dict(data.get("details") or {}),
        )


@dataclass(frozen=True, slots=True)
class AuditPage:
    records: tuple[AuditRecord, ...]
    next_after_seq: int | None  # pass as `after_seq` for the next page; None at the end


def with_audit(view: StateView, command: Command, effects: Effects) -> Effects:
    """`effects` plus the command's audit record (a rejection keeps no other writes)."""
    seq = int(view.get(keys.AUDIT_SEQ) or b"0") + 1
    if isinstance(effects.result, ConfluxError):
        outcome = f"rejected:{effects.result.code}"
        details = _command_details(command)
        kept: tuple[Write, ...] = ()
    else:
        outcome = "denied" if isinstance(command, RecordDenial) else "ok"
        details = {**_command_details(command), **_result_details(effects.result)}
        kept = effects.writes
    target, tenant = target_of(command)
    action = command.action if isinstance(command, RecordDenial) else op_of(command)
    record = AuditRecord(seq, command.now, command.actor, action, target, tenant, outcome, details)
    writes = (
        *kept,
        (keys.audit_key(seq), dump(record.to_json())),
        (keys.AUDIT_SEQ, str(seq).encode()),
        *plan_audit_prune(view, seq, command.now),
    )
    result = {"seq": seq} if isinstance(command, RecordDenial) and effects.ok else effects.result
    return Effects(writes=writes, events=effects.events if kept else (), result=result)


def target_of(command: Command) -> tuple[str, str | None]:
    """What the command acts on, as an audit target, and the tenant it lives in."""
    match command:
        case PutConfig() | DeleteConfig() | CreateVersion() | SetRelease():
            return command.coords.path, command.coords.tenant
        case CreateTenant() | DeleteTenant():
            return f"tenant/{command.name}", command.name
        case CreateUser() | DeleteUser() | SetPassword():
            return f"user/{command.username}", None
        case Bootstrap():
            return f"user/{command.admin_username}", None
        case BindRole() | UnbindRole():
            return f"binding/{command.tenant}/{command.user}", command.tenant
        case CreateApiKey() | RevokeApiKey():
            return f"apikey/{command.id}", command.tenant
        case RecordDenial():
            return command.target, command.tenant
        case SetAuditRetention():
            return "audit/retention", None


def _command_details(command: Command) -> dict[str, Any]:
    match command:
        case PutConfig(spec=spec):
            return {
                "format": spec.format,
                "encrypted": spec.encrypted,
                "separate_releaser": spec.separate_releaser,
            }
        case SetRelease(spec=spec):
            return {
                "default_version": spec.default_version,
                "rules": [rule.name for rule in spec.rules],
                "expected_revision": command.expected_revision,
            }
        case CreateUser():
            return {"system_admin": command.system_admin}
        case BindRole():
            return {"role": command.role}
        case CreateApiKey():
            return {"name": command.name, "role": command.role, "expires_at": command.expires_at}
        case SetAuditRetention():
            return {"keep_last": command.keep_last, "keep_days": command.keep_days}
        case RecordDenial(details=given) if isinstance(given, Mapping):
            return redact(given)
        case _:
            return {}


def _result_details(result: Mapping[str, Any]) -> dict[str, Any]:
    return {name: result[name] for name in _RESULT_FIELDS if name in result}


def redact(details: Mapping[str, Any]) -> dict[str, Any]:
    """`details` with the value of every credential-like field replaced, recursively.

    The edge writes RecordDenial details from a request; this is the backstop for a
    header or body field that should never have been copied. Name an API key's id
    `key_id`: names containing `apikey` or `api_key` are taken for the key itself."""
    out: dict[str, Any] = {}
    for name, value in details.items():
        if any(word in str(name).lower() for word in _SENSITIVE):
            out[name] = REDACTED
        elif isinstance(value, Mapping):
            out[name] = redact(value)
        elif isinstance(value, str) and value.lower().startswith(_SCHEMES):
            out[name] = REDACTED
        else:
            out[name] = value
    return out


def list_audit(
    view: StateView,
    *,
    tenant: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    after_seq: int | None = None,
    limit: int,
) -> AuditPage:
    """Records in sequence order, filtered, at most `limit` of them.

    Times come from whichever node led when each command was proposed, so they are not
    strictly ordered; `since` filters every record rather than seeking to a position.
    """
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    if since is not None and since.tzinfo is None:
        raise InvalidInput("since must carry a UTC offset", field="since")
    last = int(view.get(keys.AUDIT_SEQ) or b"0")
    seq = max(after_seq or 0, 0)
    found: list[AuditRecord] = []
    examined = 0
    while seq < last and len(found) < limit and examined < SCAN_BUDGET:
        seq += 1
        examined += 1
        raw = view.get(keys.audit_key(seq))
        if raw is None:
            continue
        record = AuditRecord.from_json(json.loads(raw))
        if tenant is not None and record.tenant != tenant:
            continue
        if actor is not None and record.actor != actor:
            continue
        if since is not None and parse_time("time", record.time) < since:
            continue
        found.append(record)
    return AuditPage(tuple(found), seq if seq < last else None)


def audit_record(view: StateView, seq: int) -> AuditRecord | None:
    raw = view.get(keys.audit_key(seq))
    return None if raw is None else AuditRecord.from_json(json.loads(raw))
