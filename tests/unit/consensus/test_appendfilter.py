"""plan_append: followers skip entries they hold and only truncate on a conflict."""

from __future__ import annotations

from typing import Any

from conflux_node.consensus.appendfilter import plan_append, term_lookup

LOG = [(b"", 1, 1), (b"a", 2, 1), (b"b", 3, 1), (b"c", 4, 2), (b"d", 5, 2)]


def message(prev: int, prev_term: int, entries: list[tuple[bytes, int, int]]) -> dict[str, Any]:
    return {"type": "append_entries", "term": 2, "commit_index": 3,
            "prevLogIdx": prev, "prevLogTerm": prev_term, "entries": entries}  # fmt: skip


def plan(msg: dict[str, Any]) -> dict[str, Any] | None:
    return plan_append(msg, term_lookup(LOG), LOG[-1][1])


def test_new_entries_pass_untouched() -> None:
    msg = message(5, 2, [(b"e", 6, 2)])
    assert plan(msg) is msg


def test_duplicate_batch_inside_the_log_is_dropped() -> None:
    assert plan(message(2, 1, [(b"b", 3, 1), (b"c", 4, 2)])) is None


def test_overlap_keeps_only_the_missing_tail() -> None:
    planned = plan(message(3, 1, [(b"c", 4, 2), (b"d", 5, 2), (b"e", 6, 2)]))
    assert planned is not None
    assert (planned["prevLogIdx"], planned["prevLogTerm"]) == (5, 2)
    assert planned["entries"] == [(b"e", 6, 2)]
    assert planned["commit_index"] == 3


def test_duplicate_reaching_the_log_end_becomes_a_heartbeat() -> None:
    planned = plan(message(3, 1, [(b"c", 4, 2), (b"d", 5, 2)]))
    assert planned is not None
    assert (planned["prevLogIdx"], planned["entries"]) == (5, [])


def test_conflict_is_left_for_pysyncobj_to_truncate() -> None:
    planned = plan(message(3, 1, [(b"c", 4, 2), (b"X", 5, 3)]))
    assert planned is not None
    assert planned["prevLogIdx"] == 4 and planned["entries"] == [(b"X", 5, 3)]


def test_prev_mismatch_and_heartbeats_pass_untouched() -> None:
    for msg in (message(9, 2, [(b"z", 10, 2)]), message(3, 7, [(b"c", 4, 2)]), message(3, 1, [])):
        assert plan(msg) is msg


def test_term_lookup_handles_compacted_logs() -> None:
    term_at = term_lookup(LOG[2:])
    assert term_at(2) is None and term_at(3) == 1 and term_at(5) == 2 and term_at(6) is None
    assert term_lookup([])(1) is None
