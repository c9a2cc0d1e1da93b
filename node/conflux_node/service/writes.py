"""Write use-cases: validate, stamp time and author, propose, turn the result around.

Validation happens here, before the proposal, so the log carries only well-formed
commands. What depends on replicated state (a stale If-Match, a missing version) is
decided again by `apply`, which is the authority.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conflux_node.consensus.bridge import Proposer
from conflux_node.model.commands import (
    Command,
    CreateVersion,
    DeleteConfig,
    PutConfig,
    SetRelease,
)
from conflux_node.model.errors import ContentTooLarge
from conflux_node.model.formats import content_sha, schema_sha, validate_content
from conflux_node.model.names import Coords
from conflux_node.model.rules import check_release_spec
from conflux_node.service.bodies import parse_config_spec, parse_if_match, parse_version_body
from conflux_node.service.proposing import Clock, propose, stamp, utc_now
from conflux_node.service.reads import ConfigReads

__all__ = ["Clock", "ConfigWrites", "utc_now"]


class ConfigWrites:
    def __init__(
        self,
        reads: ConfigReads,
        proposer: Proposer,
        *,
        max_content_bytes: int,
        clock: Clock = utc_now,
    ) -> None:
        self._reads = reads
        self._proposer = proposer
        self._max_content = max_content_bytes
        self._clock = clock

    def _now(self) -> str:
        return stamp(self._clock)

    async def _propose(self, command: Command) -> Mapping[str, Any]:
        return await propose(self._proposer, command)

    async def put_config(self, coords: Coords, body: object, actor: str) -> Mapping[str, Any]:
        spec = parse_config_spec(body)
        command = PutConfig(coords, spec, schema_sha(spec.schema), actor, self._now())
        return await self._propose(command)

    async def delete_config(self, coords: Coords, actor: str) -> None:
        await self._propose(DeleteConfig(coords, actor, self._now()))

    async def create_version(self, coords: Coords, body: object, actor: str) -> Mapping[str, Any]:
        content, message = parse_version_body(body)
        size = len(content.encode())
        if size > self._max_content:
            raise ContentTooLarge(
                f"content is {size} bytes; the limit is {self._max_content}",
                field="content",
                limit=self._max_content,
                size=size,
            )
        meta = self._reads.config(coords)
        validate_content(meta.spec.format, content, meta.spec.schema)
        command = CreateVersion(
            coords, content, content_sha(content), message, meta.schema_sha, actor, self._now()
        )
        return await self._propose(command)

    async def set_release(
        self, coords: Coords, body: object, if_match: str | None, actor: str
    ) -> Mapping[str, Any]:
        spec = check_release_spec(body)
        expected = parse_if_match(if_match)
        return await self._propose(SetRelease(coords, spec, expected, actor, self._now()))
