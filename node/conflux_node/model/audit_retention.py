"""How long the audit log keeps its records, and the pruning that follows from it.

The audit log gains a record with every applied command, so without a limit it would
outgrow the configuration it describes (a busy cluster writes thousands a second).
The limit is replicated state, set by a command (`SetAuditRetention`), never a
constant in code: two nodes of different versions must still prune alike. Until
someone sets it, everything is kept, as before.

Pruning is part of applying a command, so it is deterministic: each applied command
deletes at most `PRUNE_BATCH` of the oldest records that the policy no longer keeps,
judged by the command's own `now` and the sequence number its record gets. A policy
that is tightened is therefore caught up with gradually (a few records per command),
never in one huge write batch. Records are keyed by sequence number, so the oldest are
the first keys under `a/`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conflux_node.model import keys
from conflux_node.model.commands import SetAuditRetention
from conflux_node.model.effects import Effects, Write
from conflux_node.model.errors import InvalidInput
from conflux_node.model.identity import parse_time
from conflux_node.model.view import StateView, dump

PRUNE_BATCH = 16
MAX_KEEP_LAST = 10**9
MAX_KEEP_DAYS = 100 * 365


@dataclass(frozen=True, slots=True)
class AuditRetention:
    """Keep the newest `keep_last` records and those younger than `keep_days`; a record
    goes once either limit (when set) excludes it. Both None: keep everything."""

    keep_last: int | None = None
    keep_days: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"keep_last": self.keep_last, "keep_days": self.keep_days}

    @property
    def keeps_everything(self) -> bool:
        return self.keep_last is None and self.keep_days is None


def check_limit(field: str, value: object, high: int) -> int | None:
    """None, or an integer from 1 to `high`; anything else is `InvalidInput`."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= high:
        raise InvalidInput(f"{field} must be an integer from 1 to {high}, or null", field=field)
    return value


def read_audit_retention(view: StateView) -> AuditRetention:
    raw = view.get(keys.AUDIT_RETENTION)
    if raw is None:
        return AuditRetention()
    data = json.loads(raw)
    return AuditRetention(data.get("keep_last"), data.get("keep_days"))


def apply_set_audit_retention(view: StateView, cmd: SetAuditRetention) -> Effects:
    retention = AuditRetention(
        check_limit("keep_last", cmd.keep_last, MAX_KEEP_LAST),
        check_limit("keep_days", cmd.keep_days, MAX_KEEP_DAYS),
    )
    parse_time("now", cmd.now)
    return Effects(
        writes=((keys.AUDIT_RETENTION, dump(retention.to_json())),),
        result={"retention": retention.to_json()},
    )


def plan_audit_prune(view: StateView, new_seq: int, now: str) -> list[Write]:
    """Deletes of the oldest records the policy drops, once record `new_seq` is added."""
    retention = read_audit_retention(view)
    if retention.keeps_everything:
        return []
    oldest_kept_time = (
        parse_time("now", now) - timedelta(days=retention.keep_days)
        if retention.keep_days is not None
        else None
    )
    deletes: list[Write] = []
    for key, raw in view.scan(keys.AUDIT_PREFIX):
        if len(deletes) >= PRUNE_BATCH or not _dropped(raw, retention, new_seq, oldest_kept_time):
            break
        deletes.append((key, None))
    return deletes


def _dropped(raw: bytes, retention: AuditRetention, new_seq: int, oldest: datetime | None) -> bool:
    record = json.loads(raw)
    if retention.keep_last is not None and record["seq"] <= new_seq - retention.keep_last:
        return True
    return oldest is not None and parse_time("time", record["time"]) < oldest
