"""Cluster membership and health as the API reports them.

Each node knows its own Raft position exactly; for the others it asks their HTTP
`/api/v1/cluster/self` with a short timeout, so `cluster status` shows every member's
own commit index rather than the leader's guess.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp

from conflux_node.consensus.raft import RaftStatus

PEER_TIMEOUT = 0.5


@dataclass(frozen=True, slots=True)
class MemberInfo:
    id: str
    address: str  # raft host:port
    http: str


class StatusSource(Protocol):
    def status(self) -> RaftStatus: ...


class ClusterInfo:
    def __init__(self, self_id: str, members: tuple[MemberInfo, ...], raft: StatusSource) -> None:
        self.self_id = self_id
        self.members = members
        self._raft = raft
        self._by_address = {m.address: m for m in members}

    @property
    def me(self) -> MemberInfo:
        return next(m for m in self.members if m.id == self.self_id)

    def leader_id(self) -> str | None:
        leader = self._raft.status().leader
        member = self._by_address.get(leader) if leader else None
        return member.id if member else None

    def ready(self) -> tuple[bool, str]:
        status = self._raft.status()
        if status.leader is None:
            return False, "no leader"
        target = status.commit_index if status.is_leader else status.leader_commit_index
        if target is None or status.last_applied < target:
            return False, f"catching up: applied {status.last_applied} of {target}"
        return True, "ready"

    def self_report(self) -> dict[str, Any]:
        status = self._raft.status()
        me = self.me
        leader = self.leader_id()
        return {
            "id": me.id,
            "address": me.address,
            "http": me.http,
            "role": "leader" if leader == me.id else "follower",
            "leader": leader,
            "term": status.term,
            "commit_index": status.commit_index,
            "last_applied": status.last_applied,
            "healthy": status.leader is not None,
            "journal_fsyncs": status.journal_fsyncs,
            "connected": sorted(
                self._by_address[a].id for a in status.connected if a in self._by_address
            ),
        }

    async def status(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        mine = self.self_report()
        others = [m for m in self.members if m.id != self.self_id]
        reports = await asyncio.gather(*(self._peer(session, m) for m in others))
        rows = {self.self_id: self._member_row(mine)}
        for member, report in zip(others, reports, strict=True):
            rows[member.id] = (
                self._member_row(report) if report else self._unreachable(member, mine["leader"])
            )
        members = [rows[m.id] for m in self.members]
        return {"self": self.self_id, "leader": mine["leader"], "members": members}

    async def _peer(self, session: aiohttp.ClientSession, member: MemberInfo) -> Any:
        try:
            url = f"{member.http}/api/v1/cluster/self"
            timeout = aiohttp.ClientTimeout(total=PEER_TIMEOUT)
            async with session.get(url, timeout=timeout) as response:
                return await response.json() if response.status == 200 else None
        except (aiohttp.ClientError, TimeoutError, ValueError):
            return None

    @staticmethod
    def _member_row(report: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "address", "http", "role", "healthy", "commit_index", "last_applied")
        return {k: report.get(k) for k in keys}

    @staticmethod
    def _unreachable(member: MemberInfo, leader: str | None) -> dict[str, Any]:
        return {
            "id": member.id,
            "address": member.address,
            "http": member.http,
            "role": "leader" if member.id == leader else "follower",
            "healthy": False,
            "commit_index": None,
            "last_applied": None,
        }
