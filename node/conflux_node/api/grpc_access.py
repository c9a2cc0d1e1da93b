"""Access for gRPC Watch streams: the check when a stream opens, and after.

A stream opens with the same check as an HTTP request (`AccessControl`): the
`authorization` metadata must name a caller holding `watch` in the tenant of every
watched config. A stream outlives that moment, though, so its `Grant` is checked again
before every event it is sent, and the `GrantSentry` makes sure idle streams are
checked too: once a second it looks at the identity revision and the credentials'
expiry, and when either moved it wakes the streams concerned with an empty batch. A
stream whose grant no longer holds ends with UNAUTHENTICATED (the credential is
revoked, expired or gone) or PERMISSION_DENIED (the role no longer allows it), within
about a second of the change being applied on this node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

import grpc

from conflux_node.auth import errors as auth
from conflux_node.auth.roles import WATCH
from conflux_node.model.names import Coords
from conflux_node.service.access import AccessControl
from conflux_node.service.sessions import Principal
from conflux_node.service.watch import Watcher

log = logging.getLogger(__name__)

TARGET = "gRPC Watch"
SWEEP_SECONDS = 1.0


def authorization_of(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


@dataclass(slots=True)
class Grant:
    """What a stream was allowed on, and at which identity revision it was checked."""

    authorization: str | None
    tenants: tuple[str, ...]
    principal: Principal
    revision: int


def grant_of(access: AccessControl, authorization: str | None, held: dict[Coords, str]) -> Grant:
    """Authenticate and authorize a new stream; raises Unauthenticated or Forbidden."""
    who = access.authenticate(authorization)
    tenants = tuple(sorted({coords.tenant for coords in held}))
    for tenant in tenants:
        access.authorize(who, WATCH, tenant, TARGET)
    return Grant(authorization, tenants, who, access.revision())


def expired(access: AccessControl, grant: Grant) -> bool:
    expires = grant.principal.expires_at
    return expires is not None and access.now() >= expires


def recheck(access: AccessControl, grant: Grant) -> None:
    """Raise if the stream's grant no longer holds; cheap while identities are unchanged."""
    revision = access.revision()
    if revision == grant.revision and not expired(access, grant):
        return
    who = access.authenticate(grant.authorization)
    for tenant in grant.tenants:
        if not access.allowed(who, WATCH, tenant):
            raise auth.Forbidden(f"{who.actor} may no longer watch in tenant {tenant}")
    grant.principal, grant.revision = who, revision


class GrantSentry:
    """Wakes open streams whose grant may have changed, so idle streams are checked too."""

    def __init__(self, access: AccessControl, interval: float = SWEEP_SECONDS) -> None:
        self._access = access
        self._interval = interval
        self._streams: dict[Watcher, Grant] = {}
        self._task: asyncio.Task[None] | None = None

    def track(self, watcher: Watcher, grant: Grant) -> None:
        self._streams[watcher] = grant

    def forget(self, watcher: Watcher) -> None:
        self._streams.pop(watcher, None)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="grant-sentry")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def sweep(self) -> int:
        """Wake every stream whose grant is stale or expired; return how many were woken."""
        revision = self._access.revision()
        woken = 0
        for watcher, grant in list(self._streams.items()):
            if grant.revision != revision or expired(self._access, grant):
                watcher.offer([])
                woken += 1
        return woken

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                self.sweep()
            except Exception:  # a failed sweep must not end the sentry
                log.exception("grant sentry sweep failed")
