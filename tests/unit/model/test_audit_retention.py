"""Audit retention: a replicated limit, pruning a few records per applied command."""

from __future__ import annotations

import pytest

from conflux_node.model import commands, keys
from conflux_node.model.audit import list_audit
from conflux_node.model.audit_retention import PRUNE_BATCH, read_audit_retention
from conflux_node.model.commands import CreateTenant, SetAuditRetention
from tests.unit.model.support import T0, T1, T2, Harness

T10 = "2026-01-11T00:00:00.000+00:00"


def seqs(h: Harness) -> list[int]:
    return [r.seq for r in list_audit(h.store, limit=1000).records]


def tenants(h: Harness, count: int, now: str = T0, start: int = 0) -> None:
    for i in range(start, start + count):
        assert h.run(CreateTenant(f"t{i}", "root", now)).ok


def retention(keep_last: int | None, keep_days: int | None, now: str = T0) -> SetAuditRetention:
    return SetAuditRetention(keep_last, keep_days, "root", now)


def test_everything_is_kept_until_a_limit_is_set() -> None:
    h = Harness()
    tenants(h, 30)
    assert seqs(h) == list(range(1, 31))
    assert read_audit_retention(h.store).keeps_everything


def test_keep_last_keeps_the_newest_records() -> None:
    h = Harness()
    tenants(h, 5)
    assert h.run(retention(3, None)).ok  # record 6; the limit applies from the next one
    tenants(h, 4, start=5)  # records 7..10
    assert seqs(h) == [8, 9, 10]
    record = list_audit(h.store, limit=1000).records[0]
    assert record.action == "create_tenant"


def test_keep_days_drops_records_older_than_the_commands_now() -> None:
    h = Harness()
    tenants(h, 3, now=T0)  # records 1..3 on day 0
    tenants(h, 2, now=T1, start=3)  # records 4..5 on day 1
    assert h.run(retention(None, 2, now=T2)).ok  # record 6 on day 2
    assert seqs(h) == [1, 2, 3, 4, 5, 6]  # nothing is older than 2 days yet
    tenants(h, 1, now=T10, start=5)  # day 10: everything before day 8 goes
    assert seqs(h) == [7]


def test_a_tightened_limit_is_caught_up_a_batch_per_command() -> None:
    h = Harness()
    tenants(h, 3 * PRUNE_BATCH)
    assert h.run(retention(1, None)).ok
    tenants(h, 1, start=100)
    assert len(seqs(h)) == 3 * PRUNE_BATCH + 2 - PRUNE_BATCH
    tenants(h, 3, start=101)
    assert seqs(h) == [3 * PRUNE_BATCH + 5]


def test_lifting_the_limit_stops_pruning() -> None:
    h = Harness()
    assert h.run(retention(2, None)).ok
    tenants(h, 5)
    assert h.run(retention(None, None)).ok
    tenants(h, 5, start=5)
    # Record 7 (the lifting) is still pruned under the old limit; nothing after it.
    assert seqs(h) == list(range(6, 13))


@pytest.mark.parametrize("bad", [0, -1, True, "10", 1.5, 10**10])
def test_bad_limits_are_rejected_and_change_nothing(bad: object) -> None:
    h = Harness()
    assert h.run(retention(5, None)).ok
    effects = h.run(retention(bad, None))  # type: ignore[arg-type]
    assert not effects.ok and effects.result.code == "invalid_input"
    assert read_audit_retention(h.store).keep_last == 5
    assert list_audit(h.store, limit=10).records[-1].outcome == "rejected:invalid_input"


def test_pruning_is_deterministic_across_replicas() -> None:
    script = [retention(4, 3)]
    script += [CreateTenant(f"t{i}", "root", T0 if i < 10 else T10) for i in range(20)]
    one, two = Harness(), Harness()
    for command in script:
        one.run(command)
        two.run(command)
    assert one.dump() == two.dump()
    assert len(seqs(one)) == 4


def test_the_command_travels_and_is_audited() -> None:
    command = retention(100, 30)
    assert commands.decode(commands.encode(command)) == command
    h = Harness()
    assert h.run(command).result == {"retention": {"keep_last": 100, "keep_days": 30}}
    record = list_audit(h.store, limit=10).records[0]
    assert (record.action, record.target, record.tenant) == (
        "set_audit_retention",
        "audit/retention",
        None,
    )
    assert record.details == {"keep_last": 100, "keep_days": 30}
    assert h.store.get(keys.AUDIT_RETENTION) is not None
