"""The pysyncobj adapter: one `SyncObj` whose single replicated method feeds the
state machine, with a durable journal, group commit and checkpoint snapshots.

Choices and why:
- `appendEntriesUseBatch=False`: a write is sent to followers at once instead of
  waiting for pysyncobj's 100 ms batch timer; the group-commit transport still
  coalesces everything a tick produced behind one fsync.
- pysyncobj builds its journal itself, so `createJournal` is swapped for the duration
  of the constructor to hand it a `DurableJournal`.
- A follower receiving snapshot chunks used to advance its commit index over its own,
  possibly stale, log before the snapshot was installed, which can apply entries the
  leader never committed. Chunks are therefore passed on without a commit index.
- Append-entries are trimmed of entries the follower already holds (`appendfilter`),
  so overlapping resends no longer truncate already-applied entries.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pysyncobj.syncobj as pso
from pysyncobj import SyncObj, SyncObjConf, replicated

from conflux_node.consensus.appendfilter import plan_append, term_lookup
from conflux_node.consensus.journal import DurableJournal
from conflux_node.consensus.machine import Result, StateMachine
from conflux_node.consensus.snapshot import SnapshotStore
from conflux_node.consensus.transport import GroupCommitTransport

_CONSTRUCT_LOCK = threading.Lock()

Callback = Callable[[Result, int], None]


@dataclass(frozen=True, slots=True)
class RaftOptions:
    self_address: str
    peer_addresses: tuple[str, ...]
    data_dir: Path
    durable: bool = True
    election_min: float = 0.4
    election_max: float = 1.4
    compaction_min_entries: int = 5000
    compaction_min_seconds: int = 300
    secret: str | None = None  # pysyncobj encrypts every Raft message with it when set


@dataclass(frozen=True, slots=True)
class RaftStatus:
    leader: str | None
    is_leader: bool
    term: int
    commit_index: int
    last_applied: int
    leader_commit_index: int | None
    connected: frozenset[str]
    match_index: dict[str, int]
    journal_fsyncs: int = 0


class RaftNode(SyncObj):  # type: ignore[misc]
    def __init__(self, options: RaftOptions, machine: StateMachine) -> None:
        raft_dir = options.data_dir / "raft"
        raft_dir.mkdir(parents=True, exist_ok=True)
        self.machine = machine
        self.durable_journal = DurableJournal(raft_dir / "journal", durable=options.durable)
        self.snapshots = SnapshotStore(
            machine.store, raft_dir, durable=options.durable, on_restore=machine.restored
        )
        conf = SyncObjConf(
            appendEntriesUseBatch=False,
            journalFile=str(raft_dir / "journal"),
            fullDumpFile=str(raft_dir / "snapshot"),
            serializer=self.snapshots.serialize,
            deserializer=self.snapshots.deserialize,
            serializeChecker=self.snapshots.check,
            useFork=False,
            raftMinTimeout=options.election_min,
            raftMaxTimeout=options.election_max,
            appendEntriesPeriod=min(0.1, options.election_min / 4),
            logCompactionMinEntries=options.compaction_min_entries,
            logCompactionMinTime=options.compaction_min_seconds,
            commandsWaitLeader=False,
            dynamicMembershipChange=True,
            connectionRetryTime=0.5,
            password=options.secret,
        )
        with _CONSTRUCT_LOCK:
            original = pso.createJournal
            pso.createJournal = lambda _path: self.durable_journal
            try:
                super().__init__(
                    options.self_address,
                    list(options.peer_addresses),
                    conf,
                    transportClass=GroupCommitTransport,
                )
            finally:
                pso.createJournal = original

    @replicated  # type: ignore[untyped-decorator]
    def _apply_entry(self, payload: bytes) -> Result:
        # pysyncobj increments raftLastApplied right after this returns.
        return self.machine.apply_entry(self.raftLastApplied + 1, payload)

    def propose(self, payload: bytes, callback: Callback) -> None:
        """Append `payload` through the leader; `callback(result, fail_reason)` runs on
        pysyncobj's thread once this node has applied it (or it failed)."""
        self._apply_entry(payload, callback=callback)

    def _SyncObj__onMessageReceived(self, node: Any, message: Any) -> None:
        if isinstance(message, dict) and message.get("type") == "append_entries":
            if "serialized" in message:
                message = {**message, "commit_index": 0}
            else:
                log = self.durable_journal
                message = plan_append(message, term_lookup(log), log[-1][1])
                if message is None:
                    return
        SyncObj._SyncObj__onMessageReceived(self, node, message)

    def status(self) -> RaftStatus:
        leader = self._getLeader()
        match = {node.id: idx for node, idx in dict(self._SyncObj__raftMatchIndex).items()}
        return RaftStatus(
            leader=leader.id if leader is not None else None,
            is_leader=self._isLeader(),
            term=self.raftCurrentTerm,
            commit_index=self.raftCommitIndex,
            last_applied=self.raftLastApplied,
            leader_commit_index=self._SyncObj__leaderCommitIndex,
            connected=frozenset(n.id for n in self.otherNodes if self.isNodeConnected(n)),
            match_index=match,
            journal_fsyncs=self.durable_journal.fsync_count,
        )
