"""The one bridge between pysyncobj's thread and asyncio.

`Proposer.propose(payload)` returns the state machine's result for that entry, as
computed on this node once it applied the entry, or raises a domain error that the
edge turns into 503 (no leader, leadership changed, timed out).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from pysyncobj import FAIL_REASON

from conflux_node.consensus.machine import Result, StateMachine
from conflux_node.consensus.raft import RaftNode
from conflux_node.model.errors import NoLeader, Unavailable

_FAILURES: dict[int, str] = {
    FAIL_REASON.QUEUE_FULL: "the proposal queue is full",
    FAIL_REASON.DISCARDED: "leadership changed before the write committed; retry",
    FAIL_REASON.NOT_LEADER: "leadership changed before the write committed; retry",
    FAIL_REASON.LEADER_CHANGED: "leadership changed before the write committed; retry",
    FAIL_REASON.REQUEST_DENIED: "the leader denied the request",
    FAIL_REASON.UNKNOWN_OUTCOME: "the outcome is unknown; read back before retrying",
}


class Proposer(Protocol):
    async def propose(self, payload: bytes) -> Result: ...


class RaftProposer:
    def __init__(self, node: RaftNode, timeout: float) -> None:
        self._node = node
        self._timeout = timeout

    async def propose(self, payload: bytes) -> Result:
        if self._node.status().leader is None:
            raise NoLeader("the cluster has no leader right now; retry shortly")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()

        def done(result: Result, reason: int) -> None:
            loop.call_soon_threadsafe(_settle, future, result, reason)

        self._node.propose(payload, done)
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError:
            raise Unavailable(
                f"the write was not committed within {self._timeout:g}s; its outcome is unknown"
            ) from None


def _settle(future: asyncio.Future[Result], result: Result, reason: int) -> None:
    if future.done():
        return
    if reason == FAIL_REASON.SUCCESS:
        future.set_result(result)
    elif reason == FAIL_REASON.MISSING_LEADER:
        future.set_exception(NoLeader("the cluster has no leader right now; retry shortly"))
    else:
        future.set_exception(Unavailable(_FAILURES.get(reason, f"write failed ({reason})")))


class LocalProposer:
    """The in-memory twin: applies straight to a state machine, one index at a time."""

    def __init__(self, machine: StateMachine) -> None:
        self._machine = machine
        self._index = machine.store.applied_index

    async def propose(self, payload: bytes) -> Result:
        self._index += 1
        return self._machine.apply_entry(self._index, payload)
