"""Merge the Raft messages a tick queued for one peer into as few as possible.

With `appendEntriesUseBatch=False` pysyncobj sends an append-entries per proposal,
so a busy tick queues dozens of one-entry messages per follower, and each follower
answers every one. Contiguous append-entries (each starts where the previous ended,
same term) become one message carrying all the entries, and a run of plain success
acknowledgements collapses to the last one (the leader keeps the highest index). Per
peer order is kept; everything else passes through unchanged.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]
MAX_MERGED_ENTRIES = 4096


def _end_of(message: Message) -> int:
    entries = message["entries"]
    last: int = entries[-1][1] if entries else message["prevLogIdx"]
    return last


def _plain_append(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("type") == "append_entries"
        and "prevLogIdx" in message
        and "entries" in message
        and "transmission" not in message
    )


def _plain_ack(message: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("type") == "next_node_idx"
        and message.get("success") is True
        and message.get("reset") is False
    )


def _merge(first: Message, second: Message) -> Message | None:
    if _plain_append(first) and _plain_append(second):
        if first["term"] != second["term"] or second["prevLogIdx"] != _end_of(first):
            return None
        if len(first["entries"]) + len(second["entries"]) > MAX_MERGED_ENTRIES:
            return None
        return {
            **second,
            "prevLogIdx": first["prevLogIdx"],
            "prevLogTerm": first["prevLogTerm"],
            "entries": first["entries"] + second["entries"],
        }
    if _plain_ack(first) and _plain_ack(second):
        return second if second["next_node_idx"] >= first["next_node_idx"] else None
    return None


def coalesce(outbox: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Merge what can be merged per peer, keeping each peer's message order."""
    per_node: dict[Any, list[Any]] = {}
    for node, message in outbox:
        queue = per_node.setdefault(node, [])
        merged = _merge(queue[-1], message) if queue else None
        if merged is None:
            queue.append(message)
        else:
            queue[-1] = merged
    return [(node, message) for node, queue in per_node.items() for message in queue]
