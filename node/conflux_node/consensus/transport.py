"""Group commit: hold outgoing Raft messages until the journal is fsynced.

pysyncobj sends append-entries, their acknowledgements and vote replies straight from
its handlers. This transport queues them instead and releases them once per tick,
after one `journal.sync()`. So every message that could lead another node to count an
entry as replicated leaves only after that entry is on disk here, and one fsync serves
all the entries added in that tick (that is the group commit). Before sending, the tick's
messages to each peer are merged where Raft allows (`coalesce`).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from pysyncobj.transport import CONNECTION_STATE, TCPTransport

from conflux_node.consensus.coalesce import coalesce


class Syncable(Protocol):
    def sync(self) -> None: ...


class GroupCommitTransport(TCPTransport):  # type: ignore[misc]
    def __init__(self, syncObj: Any, selfNode: Any, otherNodes: Any) -> None:
        super().__init__(syncObj, selfNode, otherNodes)
        self._journal: Syncable = syncObj.durable_journal
        self._outbox: list[tuple[Any, Any]] = []
        self._lock = threading.Lock()
        syncObj.addOnTickCallback(self.flush)

    def send(self, node: Any, message: Any) -> bool:
        if not self._connected(node):
            return False
        with self._lock:
            self._outbox.append((node, message))
        return True

    def flush(self) -> None:
        """fsync the journal once, then send everything queued since the last flush."""
        with self._lock:
            outbox, self._outbox = self._outbox, []
        self._journal.sync()
        for node, message in coalesce(outbox):
            super().send(node, message)

    def _connected(self, node: Any) -> bool:
        conn = self._connections.get(node)
        return conn is not None and conn.state == CONNECTION_STATE.CONNECTED
