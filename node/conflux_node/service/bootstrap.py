"""First start: create the `admin` user and the cluster's JWT signing key.

Only the leader proposes, and only while the state holds no users; `Bootstrap` is a
no-op in `apply` once any user exists, so a retry, a second node racing after a
leader change, or a restart can never create a second admin or replace the key.

The password comes from settings (`auth.admin_password`). Without one, a random
password is generated and logged exactly once, by the node whose proposal actually
bootstrapped the cluster: that log line is the only place it is ever shown. No other
line here formats a password, and the node's handlers also mask credentials.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
from collections.abc import Callable

from conflux_node.auth.passwords import hash_password
from conflux_node.auth.tokens import generate_signing_key
from conflux_node.consensus.bridge import Proposer
from conflux_node.model.commands import Bootstrap
from conflux_node.model.errors import ConfluxError
from conflux_node.model.identity import has_users
from conflux_node.model.view import StateView
from conflux_node.service.proposing import Clock, propose, stamp, utc_now

log = logging.getLogger(__name__)

ADMIN = "admin"
SYSTEM_ACTOR = "system:bootstrap"
RETRY_SECONDS = 0.5


def new_jwt_key() -> str:
    """32 random bytes as unpadded base64url (43 characters), the form the model stores."""
    return base64.urlsafe_b64encode(generate_signing_key()).rstrip(b"=").decode("ascii")


def new_admin_password() -> str:
    return secrets.token_urlsafe(24)


async def bootstrap_once(
    view: StateView,
    proposer: Proposer,
    admin_password: str | None,
    *,
    clock: Clock = utc_now,
) -> bool:
    """Propose `Bootstrap` unless users exist; True when this call bootstrapped the cluster.

    Raises the proposer's error (no leader, timeout) so the caller can retry.
    """
    if has_users(view):
        return False
    generated = admin_password is None
    password = new_admin_password() if admin_password is None else admin_password
    password_hash = await asyncio.to_thread(hash_password, password)
    command = Bootstrap(ADMIN, password_hash, new_jwt_key(), SYSTEM_ACTOR, stamp(clock))
    result = await propose(proposer, command)
    if not result.get("bootstrapped"):
        return False
    if generated:
        # The one place the generated password is shown (see the module doc).
        log.warning("generated admin password: %s", password)
    log.info("bootstrapped the cluster: created user %s and the token signing key", ADMIN)
    return True


async def run_bootstrap(
    view: StateView,
    proposer: Proposer,
    admin_password: str | None,
    is_leader: Callable[[], bool],
    *,
    retry: float = RETRY_SECONDS,
    clock: Clock = utc_now,
) -> None:
    """Until the state holds a user: when this node leads, try `bootstrap_once`.

    A follower only waits; the leader's proposal reaches it through the log.
    """
    while not has_users(view):
        if is_leader():
            try:
                await bootstrap_once(view, proposer, admin_password, clock=clock)
            except ConfluxError as error:  # no leader, leadership moved, timed out
                log.info("bootstrap not done yet (%s); retrying", error.code)
            except Exception:
                log.exception("bootstrap failed; retrying")
        await asyncio.sleep(retry)
