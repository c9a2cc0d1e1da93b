"""coalesce: contiguous append-entries merge per peer; order and meaning are kept."""

from __future__ import annotations

from typing import Any

from conflux_node.consensus.coalesce import coalesce


def append(prev: int, entries: list[int], term: int = 3, commit: int = 0) -> dict[str, Any]:
    return {"type": "append_entries", "term": term, "commit_index": commit,
            "prevLogIdx": prev, "prevLogTerm": term,
            "entries": [(b"x", i, term) for i in entries]}  # fmt: skip


def ack(next_idx: int, success: bool = True, reset: bool = False) -> dict[str, Any]:
    return {"type": "next_node_idx", "next_node_idx": next_idx, "success": success, "reset": reset}


def test_contiguous_appends_merge_per_peer() -> None:
    out = coalesce([("a", append(4, [5])), ("b", append(9, [5])), ("a", append(5, [6], commit=5)),
                    ("a", append(6, []))])  # fmt: skip
    assert [n for n, _ in out] == ["a", "b"]
    merged = out[0][1]
    assert merged["prevLogIdx"] == 4
    assert [e[1] for e in merged["entries"]] == [5, 6]
    assert merged["commit_index"] == 0  # the heartbeat's, the latest
    assert out[1][1] == append(9, [5])


def test_gaps_terms_and_other_messages_are_not_merged() -> None:
    gap = coalesce([("a", append(4, [5])), ("a", append(7, [8]))])
    assert len(gap) == 2
    terms = coalesce([("a", append(4, [5], term=3)), ("a", append(5, [6], term=4))])
    assert len(terms) == 2
    vote = {"type": "response_vote", "term": 3}
    mixed = coalesce([("a", append(4, [5])), ("a", vote), ("a", append(5, [6]))])
    assert [m["type"] for _, m in mixed] == ["append_entries", "response_vote", "append_entries"]


def test_success_acks_collapse_to_the_last_but_failures_stay() -> None:
    assert coalesce([("l", ack(5)), ("l", ack(7))]) == [("l", ack(7))]
    failures = [("l", ack(5)), ("l", ack(3, success=False, reset=True)), ("l", ack(7))]
    assert coalesce(failures) == failures
