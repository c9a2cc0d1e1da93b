"""Unit tests for DurableJournal: buffering, sync, truncation, torn tails, term/vote."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conflux_node.consensus.journal import MAGIC, DurableJournal

HEAD = 8  # length + crc32
ENTRY = 16  # idx + term

Open = Callable[..., DurableJournal]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "journal"


@pytest.fixture
def opened() -> list[DurableJournal]:
    return []


@pytest.fixture
def open_journal(path: Path, opened: list[DurableJournal]) -> Iterator[Open]:
    """Opens journals on `path`; closes the file descriptor of each still open at teardown."""

    def build(*, durable: bool = True) -> DurableJournal:
        journal = DurableJournal(path, durable=durable)
        opened.append(journal)
        return journal

    yield build
    for journal in opened:
        os.close(journal._fd)


def destroy(journal: DurableJournal, opened: list[DurableJournal]) -> None:
    """Run pysyncobj's shutdown hook (it closes the descriptor itself)."""
    journal._destroy()
    opened.remove(journal)


def entries(n: int, start: int = 1, term: int = 1) -> list[tuple[bytes, int, int]]:
    return [(f"cmd-{i}".encode(), i, term) for i in range(start, start + n)]


def add_all(journal: DurableJournal, items: list[tuple[bytes, int, int]]) -> None:
    for command, idx, term in items:
        journal.add(command, idx, term)


def record_size(command: bytes) -> int:
    return HEAD + ENTRY + len(command)


def on_disk(open_journal: Open) -> list[tuple[bytes, int, int]]:
    """What a fresh instance (a restarted node) loads from the file."""
    return list(open_journal()[:])


# --- add / sync / reopen -------------------------------------------------------------


def test_empty_journal(open_journal: Open, path: Path) -> None:
    journal = open_journal()
    assert len(journal) == 0
    assert journal[:] == []
    assert path.read_bytes() == MAGIC
    assert journal.needs_sync is False


def test_synced_entries_survive_reopen(open_journal: Open) -> None:
    journal = open_journal()
    items = [*entries(3), (b"", 4, 2), (bytes(range(256)) * 10, 5, 2)]
    add_all(journal, items)
    assert len(journal) == 5
    assert journal[0] == items[0]
    assert journal[-1] == items[-1]
    assert journal[1:3] == items[1:3]
    journal.sync()
    reopened = open_journal()
    assert reopened[:] == items
    assert len(reopened) == 5


def test_add_accepts_bytearray_and_memoryview(open_journal: Open) -> None:
    journal = open_journal()
    journal.add(bytearray(b"ba"), 1, 1)
    journal.add(memoryview(b"mv"), 2, 1)
    journal.sync()
    assert journal[:] == [(b"ba", 1, 1), (b"mv", 2, 1)]
    assert all(type(c) is bytes for c, _, _ in journal[:])
    assert on_disk(open_journal) == [(b"ba", 1, 1), (b"mv", 2, 1)]


def test_unsynced_entries_are_not_on_disk(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(2))
    journal.sync()
    add_all(journal, entries(2, start=3))
    assert len(journal) == 4
    assert on_disk(open_journal) == entries(2)
    journal.sync()
    assert on_disk(open_journal) == entries(4)


def test_flush_and_destroy_sync(open_journal: Open, opened: list[DurableJournal]) -> None:
    journal = open_journal()
    add_all(journal, entries(1))
    journal.flush()
    assert on_disk(open_journal) == entries(1)
    add_all(journal, entries(1, start=2))
    destroy(journal, opened)
    assert on_disk(open_journal) == entries(2)


def test_sync_appends_after_previous_sync(open_journal: Open) -> None:
    journal = open_journal()
    for batch in range(4):
        add_all(journal, entries(3, start=batch * 3 + 1))
        journal.sync()
    assert on_disk(open_journal) == entries(12)


def test_reopened_journal_appends_at_the_end(open_journal: Open) -> None:
    first = open_journal()
    add_all(first, entries(2))
    first.sync()
    second = open_journal()
    add_all(second, entries(2, start=3))
    second.sync()
    assert on_disk(open_journal) == entries(4)


# --- deleteEntriesFrom ---------------------------------------------------------------


def test_delete_entries_from_synced(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(5))
    journal.sync()
    journal.deleteEntriesFrom(3)
    assert journal[:] == entries(3)
    assert journal.needs_sync is True
    journal.sync()
    assert journal.needs_sync is False
    assert on_disk(open_journal) == entries(3)
    # New entries (a new leader's) go where the cut ones were.
    add_all(journal, entries(2, start=4, term=2))
    journal.sync()
    assert on_disk(open_journal) == [*entries(3), *entries(2, start=4, term=2)]


def test_delete_entries_from_only_pending(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(3))
    journal.sync()
    add_all(journal, entries(3, start=4))
    journal.deleteEntriesFrom(4)
    assert journal[:] == entries(4)
    add_all(journal, [(b"replacement", 5, 2)])
    journal.sync()
    assert on_disk(open_journal) == [*entries(4), (b"replacement", 5, 2)]


def test_delete_entries_from_spanning_synced_and_pending(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(3))
    journal.sync()
    add_all(journal, entries(2, start=4))
    journal.deleteEntriesFrom(1)
    assert journal[:] == entries(1)
    assert journal.needs_sync is True
    add_all(journal, [(b"x", 2, 3)])
    journal.sync()
    assert on_disk(open_journal) == [*entries(1), (b"x", 2, 3)]


def test_delete_entries_from_everything(open_journal: Open, path: Path) -> None:
    journal = open_journal()
    add_all(journal, entries(3))
    journal.sync()
    journal.deleteEntriesFrom(0)
    journal.sync()
    assert len(journal) == 0
    assert path.read_bytes() == MAGIC
    assert on_disk(open_journal) == []


def test_delete_entries_from_past_the_end_is_a_no_op(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(2))
    journal.sync()
    journal.deleteEntriesFrom(2)
    journal.deleteEntriesFrom(10)
    assert journal.needs_sync is False
    assert journal[:] == entries(2)
    assert on_disk(open_journal) == entries(2)


# --- deleteEntriesTo / clear ---------------------------------------------------------


def test_delete_entries_to_keeps_tail(open_journal: Open, path: Path) -> None:
    journal = open_journal()
    add_all(journal, entries(5))
    journal.sync()
    journal.deleteEntriesTo(2)
    assert journal[:] == entries(3, start=3)
    assert journal[0] == (b"cmd-3", 3, 1)
    assert journal.needs_sync is False
    assert on_disk(open_journal) == entries(3, start=3)
    assert path.stat().st_size == len(MAGIC) + sum(record_size(c) for c, _, _ in journal[:])
    # Appends after a compaction land at the right offsets.
    add_all(journal, entries(1, start=6))
    journal.sync()
    journal.deleteEntriesFrom(2)
    journal.sync()
    assert on_disk(open_journal) == entries(2, start=3)


def test_delete_entries_to_writes_pending_entries(open_journal: Open) -> None:
    journal = open_journal()
    add_all(journal, entries(3))
    journal.sync()
    add_all(journal, entries(2, start=4))
    journal.deleteEntriesTo(1)
    assert journal.needs_sync is False
    assert on_disk(open_journal) == entries(4, start=2)


def test_clear(open_journal: Open, path: Path) -> None:
    journal = open_journal()
    add_all(journal, entries(3))
    journal.sync()
    add_all(journal, entries(1, start=4))
    journal.clear()
    assert len(journal) == 0
    assert path.read_bytes() == MAGIC
    assert on_disk(open_journal) == []
    add_all(journal, entries(1, start=10))
    journal.sync()
    assert on_disk(open_journal) == entries(1, start=10)


# --- torn tails and corruption -------------------------------------------------------


def _synced_file(open_journal: Open, items: list[tuple[bytes, int, int]]) -> int:
    journal = open_journal()
    add_all(journal, items)
    journal.sync()
    return len(MAGIC) + sum(record_size(c) for c, _, _ in items)


@pytest.mark.parametrize(
    "tail",
    [
        b"\x07",  # less than a record head
        b"\x00" * 8,  # a head claiming an empty body: shorter than idx + term
        b"\xff\xff\x00\x00\x00\x00\x00\x00" + b"\x01" * 20,  # a head promising more than there is
        b"garbage that is long enough to look like several records...",
    ],
    ids=["short", "zero-length", "overlong", "garbage"],
)
def test_torn_tail_is_cut_off(open_journal: Open, path: Path, tail: bytes) -> None:
    good = _synced_file(open_journal, entries(3))
    assert path.stat().st_size == good
    with open(path, "ab") as f:
        f.write(tail)
    reopened = open_journal()
    assert reopened[:] == entries(3)
    assert path.stat().st_size == good
    add_all(reopened, entries(1, start=4))
    reopened.sync()
    assert on_disk(open_journal) == entries(4)


def test_truncated_last_record_is_cut_off(open_journal: Open, path: Path) -> None:
    items = entries(3)
    full = _synced_file(open_journal, items)
    cut_at = full - record_size(items[-1][0])
    with open(path, "r+b") as f:
        f.truncate(full - 3)
    reopened = open_journal()
    assert reopened[:] == items[:2]
    assert path.stat().st_size == cut_at


def test_corrupt_crc_in_the_middle_stops_loading(open_journal: Open, path: Path) -> None:
    items = entries(4)
    _synced_file(open_journal, items)
    second = len(MAGIC) + record_size(items[0][0])
    data = bytearray(path.read_bytes())
    data[second + HEAD + ENTRY] ^= 0x01  # flip a bit of entry 2's command
    path.write_bytes(bytes(data))
    reopened = open_journal()
    assert reopened[:] == items[:1]
    assert path.stat().st_size == second


def test_file_without_magic_is_reset(open_journal: Open, path: Path) -> None:
    path.write_bytes(b"not a journal at all")
    journal = open_journal()
    assert len(journal) == 0
    assert path.read_bytes() == MAGIC


# --- term, vote, commit index --------------------------------------------------------


def test_term_and_vote_defaults(open_journal: Open) -> None:
    journal = open_journal()
    assert journal.getCurrentTerm() == 0
    assert journal.getVotedForNodeId() is None
    assert journal.getRaftCommitIndex() == 1


@pytest.mark.parametrize("durable", [True, False])
def test_term_and_vote_persist_without_sync(open_journal: Open, durable: bool) -> None:
    journal = open_journal(durable=durable)
    journal.setCurrentTerm(5, "n2:7072")
    other = open_journal(durable=durable)
    assert other.getCurrentTerm() == 5
    assert other.getVotedForNodeId() == "n2:7072"
    journal.setCurrentTerm(6, None)
    assert journal.getCurrentTerm() == 6
    again = open_journal(durable=durable)
    assert again.getCurrentTerm() == 6
    assert again.getVotedForNodeId() is None


def test_commit_index_persisted_by_timer(open_journal: Open, opened: list[DurableJournal]) -> None:
    journal = open_journal()
    journal.setRaftCommitIndex(42)
    assert journal.getRaftCommitIndex() == 42
    assert open_journal().getRaftCommitIndex() == 1  # lazily persisted
    journal.onOneSecondTimer()
    assert open_journal().getRaftCommitIndex() == 42
    journal.setRaftCommitIndex(43)
    destroy(journal, opened)
    assert open_journal().getRaftCommitIndex() == 43


# --- fsync accounting and needs_sync -------------------------------------------------


def test_fsync_count_durable(open_journal: Open) -> None:
    journal = open_journal(durable=True)
    base = journal.fsync_count
    journal.sync()
    assert journal.fsync_count == base  # nothing to sync
    add_all(journal, entries(3))
    assert journal.fsync_count == base  # add alone never syncs
    journal.sync()
    assert journal.fsync_count == base + 1  # one fsync for the whole batch
    journal.sync()
    assert journal.fsync_count == base + 1
    journal.deleteEntriesFrom(1)
    journal.sync()
    assert journal.fsync_count == base + 2  # a truncation is synced too
    journal.setCurrentTerm(3, "n1")
    journal.sync()
    assert journal.fsync_count == base + 2  # meta writes are not journal syncs


def test_fsync_count_zero_when_not_durable(open_journal: Open, path: Path) -> None:
    journal = open_journal(durable=False)
    add_all(journal, entries(3))
    journal.sync()
    journal.deleteEntriesFrom(1)
    journal.sync()
    journal.deleteEntriesTo(1)
    journal.setCurrentTerm(2, "n1")
    assert journal.fsync_count == 0
    with open(path, "ab") as f:
        f.write(b"torn")
    assert open_journal(durable=False).fsync_count == 0  # even when cutting a torn tail


def test_needs_sync(open_journal: Open) -> None:
    journal = open_journal()
    assert journal.needs_sync is False
    add_all(journal, entries(2))
    assert journal.needs_sync is True
    journal.sync()
    assert journal.needs_sync is False
    add_all(journal, entries(1, start=3))
    journal.deleteEntriesFrom(2)  # removes only the pending entry
    assert journal.needs_sync is False
    journal.deleteEntriesFrom(1)  # truncates the file
    assert journal.needs_sync is True
    journal.sync()
    assert journal.needs_sync is False
