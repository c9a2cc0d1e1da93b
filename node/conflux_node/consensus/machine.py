"""The replicated state machine: decode a log entry, `apply` it, write one batch.

This is where the pure model meets storage. It runs on pysyncobj's thread, in log
order, on every node; replayed indexes (at or below the store's applied index) are
skipped so a restart that replays the journal changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from conflux_node.model.apply import Effects, Event, apply
from conflux_node.model.commands import decode
from conflux_node.model.errors import ConfluxError
from conflux_node.storage.protocol import Store

log = logging.getLogger(__name__)

EventSink = Callable[[Sequence[Event]], None]
Result = Mapping[str, Any] | ConfluxError | None


class InternalApplyError(ConfluxError):
    code = "internal"


class StateMachine:
    def __init__(self, store: Store, sink: EventSink | None = None) -> None:
        self.store = store
        self._sinks: list[EventSink] = [sink] if sink else []
        self._restore_hooks: list[Callable[[], None]] = []

    def subscribe(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    def on_restore(self, hook: Callable[[], None]) -> None:
        """`hook` runs after a snapshot replaced the whole state."""
        self._restore_hooks.append(hook)

    def restored(self) -> None:
        for hook in self._restore_hooks:
            hook()

    def apply_entry(self, index: int, payload: bytes) -> Result:
        if index <= self.store.applied_index:
            return None  # replay of an entry already in the store
        effects = self._effects(index, payload)
        self.store.write(effects.writes, index)
        if effects.events:
            for sink in self._sinks:
                sink(effects.events)
        return effects.result

    def _effects(self, index: int, payload: bytes) -> Effects:
        try:
            return apply(self.store, decode(payload))
        except Exception:
            # Deterministic on every replica: the same entry fails the same way. Record
            # it and move on rather than wedging the log.
            log.exception("log entry %d could not be applied; skipped", index)
            return Effects(result=InternalApplyError("the command could not be applied"))
