"""Drop what a follower already has from an append-entries message.

pysyncobj's follower truncates its log after `prevLogIdx` whenever a message matches
there, even when the entries that follow are the very ones it already holds. After a
restart, a leader's nextIndex resets overlap with batches still in flight, so
followers kept cutting and re-appending entries they had already applied (the
`truncating already-applied log entries` warning). Raft truncates only on a conflict.

`plan_append` rewrites the message so pysyncobj sees only the entries the follower
lacks: matching leading entries are skipped, and a message made entirely of entries
the follower holds, followed by more of its log, is dropped as a duplicate. A real
conflict (same index, other term) still reaches pysyncobj and truncates, as Raft says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Entry = tuple[bytes, int, int]  # (command, idx, term)
TermAt = Callable[[int], int | None]  # the local term at an index, None if absent

Message = dict[str, Any]


def plan_append(message: Message, term_at: TermAt, last_index: int) -> Message | None:
    """Return the message to hand to pysyncobj, or None to drop a pure duplicate."""
    entries: list[Entry] = message.get("entries") or []
    prev = message.get("prevLogIdx")
    if not entries or prev is None or "transmission" in message:
        return message
    if term_at(prev) != message.get("prevLogTerm"):
        return message  # pysyncobj answers the mismatch itself
    known = 0
    for _command, idx, term in entries:
        if term_at(idx) != term:
            break
        known += 1
    if known == 0:
        return message
    last_known = entries[known - 1]
    if known == len(entries) and last_index > last_known[1]:
        return None
    return {
        **message,
        "prevLogIdx": last_known[1],
        "prevLogTerm": last_known[2],
        "entries": entries[known:],
    }


def term_lookup(log: Any) -> TermAt:
    """A `TermAt` over pysyncobj's journal (a sequence of (command, idx, term))."""

    def term_at(index: int) -> int | None:
        if not len(log):
            return None
        first = log[0][1]
        position = index - first
        if position < 0 or position >= len(log):
            return None
        entry = log[position]
        term: int = entry[2]
        return term

    return term_at
