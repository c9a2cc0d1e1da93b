"""Proposing a command and turning its replicated result into a value or an error.

Shared by every write use-case (configs, identity, bootstrap) so they all treat a
rejection and a lost result the same way: `apply` returns a domain error as its
result, which is raised here, on the node that proposed it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from conflux_node.consensus.bridge import Proposer
from conflux_node.model.commands import Command, encode
from conflux_node.model.errors import ConfluxError, Unavailable

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def stamp(clock: Clock) -> str:
    """The `now` a command carries: the proposer's clock, in milliseconds, with offset."""
    return clock().isoformat(timespec="milliseconds")


async def propose(proposer: Proposer, command: Command) -> Mapping[str, Any]:
    """Propose `command`; return its result, or raise the domain error it was rejected with."""
    result = await proposer.propose(encode(command))
    if isinstance(result, ConfluxError):
        raise result
    if result is None:
        raise Unavailable("the write's result was lost in a replay; read back to check")
    return result
