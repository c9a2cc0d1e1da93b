"""What applying one command produces: writes, events and a result.

It lives apart from `apply` so the per-area apply modules (configs, identity, audit)
can build Effects without importing the dispatcher that imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from conflux_node.model.errors import ConfluxError
from conflux_node.model.names import Coords

Write = tuple[bytes, bytes | None]  # (key, value); None deletes


@dataclass(frozen=True, slots=True)
class Event:
    """Something a watcher may care about, emitted once the command is applied.

    Events are about configs only: the watch hub and the metadata cache key on
    `coords`. Identity changes are signalled through `m/identity_rev` instead.
    """

    kind: str  # config_put | config_deleted | version_created | release_changed
    coords: Coords
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Effects:
    writes: tuple[Write, ...] = ()
    events: tuple[Event, ...] = ()
    result: Mapping[str, Any] | ConfluxError = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not isinstance(self.result, ConfluxError)


def reject(error: ConfluxError) -> Effects:
    return Effects(result=error)
