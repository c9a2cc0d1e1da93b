"""Access control: who a credential is, whether the policy lets it act, and the record
of every refusal.

One object answers for both edges (the HTTP middleware and the gRPC Watch), so they
cannot disagree. The policy is casbin's, built from the replicated identity records
(`auth.policy`); it is rebuilt when the state's identity revision moves, which every
tenant, user, binding, password or key change bumps. Verified credentials and
decisions are cached under that same revision, so a revoked key or a removed binding
stops working at the next request after the change is applied on this node, and the
hot path (fetch at tens of thousands of requests a second) pays a dictionary lookup
instead of an HMAC, a RocksDB read and a casbin evaluation.

Refusals of an authenticated caller (403) are written to the replicated audit log as
`RecordDenial` commands, in the background so the answer does not wait for Raft, and
rate-limited per node so a client hammering a forbidden route cannot flood the log.
Failed authentications (401) have no trustworthy actor; they are logged and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import NoReturn, Protocol, TypeVar

from conflux_node.auth.errors import Forbidden, Unauthenticated
from conflux_node.auth.policy import PolicySource
from conflux_node.auth.records import load_policy_data
from conflux_node.consensus.bridge import Proposer
from conflux_node.model.commands import RecordDenial
from conflux_node.model.errors import ConfluxError
from conflux_node.model.identity import identity_rev
from conflux_node.model.view import StateView
from conflux_node.service.proposing import Clock, propose, stamp, utc_now
from conflux_node.service.sessions import Principal, Sessions

log = logging.getLogger(__name__)

MAX_TARGET = 256
MAX_CACHED = 10_000
"""Credentials and decisions kept per identity revision; the cache restarts when full."""


@dataclass(slots=True)
class DenialBudget:
    """A token bucket: at most `rate` audit records a second, bursts up to `burst`."""

    rate: float = 20.0
    burst: float = 100.0
    tokens: float = 100.0
    last: float = field(default_factory=time.monotonic)

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


@dataclass(slots=True)
class AccessCounters:
    """What /metrics reports about refusals on this node."""

    unauthenticated: int = 0
    forbidden: int = 0
    denials_unrecorded: int = 0


class AppliedView(StateView, Protocol):
    """The state, and the Raft index it has applied (which every identity change moves)."""

    @property
    def applied_index(self) -> int: ...


class AccessControl:
    def __init__(
        self,
        view: AppliedView,
        sessions: Sessions,
        proposer: Proposer,
        *,
        clock: Clock = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
        budget: DenialBudget | None = None,
    ) -> None:
        self._view = view
        self._sessions = sessions
        self._proposer = proposer
        self._clock = clock
        self._monotonic = monotonic
        self._budget = budget or DenialBudget()
        self._policy = PolicySource(lambda: load_policy_data(view))
        self._rev = -1
        self._rev_applied = -1  # the applied index `_rev` was read at
        self._principals: dict[str, Principal] = {}
        self._decisions: dict[tuple[str, str | None, str], bool] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self.counters = AccessCounters()

    def now(self) -> datetime:
        return self._clock()

    def revision(self) -> int:
        """The identity revision of the applied state; a change drops every cache.

        Read again only when the applied index moved: identities change only by applying
        an entry, and reading an int is cheaper than a RocksDB get on every request."""
        applied = self._view.applied_index
        if applied == self._rev_applied:
            return self._rev
        rev = identity_rev(self._view)
        self._rev_applied = applied
        if rev != self._rev:
            self._rev = rev
            self._principals.clear()
            self._decisions.clear()
            self._policy.invalidate()
        return rev

    def authenticate(self, authorization: str | None) -> Principal:
        """The caller behind an `Authorization` header; `Unauthenticated` otherwise."""
        self.revision()
        key = authorization or ""
        who = self._principals.get(key)
        if who is None:
            try:
                who = self._sessions.principal(authorization)
            except Unauthenticated:
                self.counters.unauthenticated += 1
                raise
            _remember(self._principals, key, who)
        if who.expires_at is not None and self._clock() >= who.expires_at:
            self._principals.pop(key, None)
            self.counters.unauthenticated += 1
            raise Unauthenticated("the credential has expired", reason="expired")
        return who

    def allowed(self, who: Principal, action: str, tenant: str | None) -> bool:
        """Does the policy grant `action` in `tenant` (None: system-wide) to `who`?"""
        self.revision()
        key = (who.actor, tenant, action)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._policy.allowed(who.actor, tenant, action)
            _remember(self._decisions, key, decision)
        return decision

    def authorize(self, who: Principal, action: str, tenant: str | None, target: str) -> None:
        """Raise `Forbidden` (and record the denial) unless `who` may do `action`."""
        if not self.allowed(who, action, tenant):
            self.refuse(who, action, tenant, target)

    def refuse(self, who: Principal, action: str, tenant: str | None, target: str) -> NoReturn:
        """Record the denial of `action` to `who` and raise `Forbidden`."""
        self.counters.forbidden += 1
        self.record_denial(who, action, tenant, target)
        where = f"tenant {tenant}" if tenant is not None else "the cluster"
        raise Forbidden(f"{who.actor} may not {action} in {where}", action=action, tenant=tenant)

    def record_denial(self, who: Principal, action: str, tenant: str | None, target: str) -> None:
        """Propose an audit record of a refusal without waiting for it."""
        if not self._budget.take(self._monotonic()):
            self.counters.denials_unrecorded += 1
            return
        target = target[:MAX_TARGET]  # a request path is the client's to make long
        command = RecordDenial(who.actor, action, target, tenant, stamp(self._clock))
        task = asyncio.get_running_loop().create_task(self._propose_denial(command))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _propose_denial(self, command: RecordDenial) -> None:
        try:
            await propose(self._proposer, command)
        except ConfluxError as error:  # no leader, lost result: the refusal stands anyway
            self.counters.denials_unrecorded += 1
            log.warning("denial of %s not recorded: %s", command.actor, error.message)


K = TypeVar("K")
V = TypeVar("V")


def _remember(cache: dict[K, V], key: K, value: V) -> None:
    if len(cache) >= MAX_CACHED:
        cache.clear()
    cache[key] = value
