"""Group commit: queued Raft messages leave only after one journal fsync."""

from __future__ import annotations

from typing import Any

from pysyncobj.transport import CONNECTION_STATE, TCPTransport

from conflux_node.consensus.transport import GroupCommitTransport


class Conn:
    state = CONNECTION_STATE.CONNECTED


class FakeJournal:
    def __init__(self, events: list[str]) -> None:
        self.events = events

    def sync(self) -> None:
        self.events.append("fsync")


def make_transport(events: list[str]) -> GroupCommitTransport:
    transport = GroupCommitTransport.__new__(GroupCommitTransport)
    transport._journal = FakeJournal(events)
    transport._outbox = []
    import threading

    transport._lock = threading.Lock()
    transport._connections = {"peer": Conn()}
    return transport


def test_messages_wait_for_the_fsync(monkeypatch: Any) -> None:
    events: list[str] = []
    sent: list[Any] = []
    monkeypatch.setattr(TCPTransport, "send", lambda self, node, msg: sent.append(msg) or True)
    transport = make_transport(events)
    assert transport.send("peer", "ack 1") is True
    assert transport.send("peer", "ack 2") is True
    assert sent == []  # nothing leaves before the tick's flush
    monkeypatch.setattr(TCPTransport, "send", lambda self, node, msg: events.append(msg) or True)
    transport.flush()
    assert events == ["fsync", "ack 1", "ack 2"]


def test_unconnected_peers_are_refused_without_queueing() -> None:
    transport = make_transport([])
    assert transport.send("stranger", "hello") is False
    assert transport._outbox == []
