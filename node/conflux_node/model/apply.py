"""`apply(view, command) -> Effects`: the whole state machine, as one pure function.

Every replica runs the same commands in the same order through this function and gets
the same writes. Rejections (a stale revision, a missing version) are results too, so
they are as deterministic as successes. Every command, accepted or rejected, appends
one audit record in the same batch (see `audit.with_audit`); a rejection writes that
record and nothing else.

The config commands are applied here; identity commands in `identity_apply`.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from conflux_node.model import keys
from conflux_node.model.audit import with_audit
from conflux_node.model.audit_retention import apply_set_audit_retention
from conflux_node.model.commands import (
    Command,
    ConfigCommand,
    CreateVersion,
    DeleteConfig,
    PutConfig,
    SetAuditRetention,
    SetRelease,
)
from conflux_node.model.effects import Effects, Event, Write, reject
from conflux_node.model.entities import ConfigMeta, Release, Retention, VersionRecord
from conflux_node.model.errors import (
    ConfigNotFound,
    Conflict,
    ConfluxError,
    ReleaserIsAuthor,
    ReleaseVersionMissing,
    RevisionMismatch,
    TenantNotFound,
)
from conflux_node.model.identity import tenant_exists
from conflux_node.model.identity_apply import apply_identity
from conflux_node.model.names import Coords
from conflux_node.model.view import StateView, dump, read_config, read_version

__all__ = ["Effects", "Event", "Write", "apply", "reject"]


def apply(view: StateView, command: Command) -> Effects:
    if isinstance(command, (PutConfig, DeleteConfig, CreateVersion, SetRelease)):
        try:
            effects = _apply_config(view, command)
        except ConfluxError as error:  # pure validation failing is a rejection too
            effects = reject(error)
    elif isinstance(command, SetAuditRetention):
        try:
            effects = apply_set_audit_retention(view, command)
        except ConfluxError as error:
            effects = reject(error)
    else:
        effects = apply_identity(view, command)
    return with_audit(view, command, effects)


def _apply_config(view: StateView, command: ConfigCommand) -> Effects:
    match command:
        case PutConfig():
            return apply_put_config(view, command)
        case DeleteConfig():
            return apply_delete_config(view, command)
        case CreateVersion():
            return apply_create_version(view, command)
        case SetRelease():
            return apply_set_release(view, command)


def _missing(coords: Coords) -> ConfigNotFound:
    return ConfigNotFound(f"config {coords.path} does not exist", config=coords.path)


def apply_put_config(view: StateView, cmd: PutConfig) -> Effects:
    old = read_config(view, cmd.coords)
    tenant = cmd.coords.tenant
    if old is None and not tenant_exists(view, tenant):
        return reject(TenantNotFound(f"tenant {tenant} does not exist", tenant=tenant))
    if old is not None and old.latest_version > 0 and old.spec.format != cmd.spec.format:
        return reject(
            Conflict(
                f"config {cmd.coords.path} has versions in format {old.spec.format}; "
                "its format cannot change",
                field="format",
            )
        )
    writes: list[Write] = []
    incarnation = old.incarnation if old else 0
    if old is None:
        incarnation = int(view.get(keys.CONFIG_SEQ) or b"0") + 1
        writes.append((keys.CONFIG_SEQ, str(incarnation).encode()))
    meta = ConfigMeta(
        coords=cmd.coords,
        spec=cmd.spec,
        schema_sha=cmd.schema_sha,
        created_at=old.created_at if old else cmd.now,
        updated_at=cmd.now,
        latest_version=old.latest_version if old else 0,
        release_revision=old.release_revision if old else 0,
        incarnation=incarnation,
    )
    writes.append((keys.config_key(cmd.coords), dump(meta.to_json())))
    event = Event("config_put", cmd.coords, {"created": old is None})
    return Effects(
        writes=tuple(writes),
        events=(event,),
        result={"created": old is None, "config": meta.to_json()},
    )


def apply_delete_config(view: StateView, cmd: DeleteConfig) -> Effects:
    if read_config(view, cmd.coords) is None:
        return reject(_missing(cmd.coords))
    writes: list[Write] = [(keys.config_key(cmd.coords), None)]
    for prefix in (keys.versions_prefix(cmd.coords), keys.releases_prefix(cmd.coords)):
        writes.extend((key, None) for key, _ in view.scan(prefix))
    return Effects(
        writes=tuple(writes),
        events=(Event("config_deleted", cmd.coords),),
        result={"deleted": True},
    )


def apply_create_version(view: StateView, cmd: CreateVersion) -> Effects:
    meta = read_config(view, cmd.coords)
    if meta is None:
        return reject(_missing(cmd.coords))
    if meta.schema_sha != cmd.schema_sha:
        return reject(
            Conflict("the config's schema changed while this version was validated; retry")
        )
    latest = read_version(view, cmd.coords, meta.latest_version)
    if latest is not None and latest.sha256 == cmd.sha256:
        return Effects(
            result={"version": latest.version, "sha256": latest.sha256, "created": False}
        )
    number = meta.latest_version + 1
    record = VersionRecord(number, cmd.sha256, cmd.content, cmd.actor, cmd.message, cmd.now)
    new_meta = replace(meta, latest_version=number, updated_at=cmd.now)
    writes: list[Write] = [
        (keys.version_key(cmd.coords, number), dump(record.to_json())),
        (keys.config_key(cmd.coords), dump(new_meta.to_json())),
    ]
    writes.extend(_retention_deletes(view, new_meta, cmd.now))
    event = Event("version_created", cmd.coords, {"version": number, "sha256": cmd.sha256})
    return Effects(
        writes=tuple(writes),
        events=(event,),
        result={"version": number, "sha256": cmd.sha256, "created": True},
    )


def apply_set_release(view: StateView, cmd: SetRelease) -> Effects:
    meta = read_config(view, cmd.coords)
    if meta is None:
        return reject(_missing(cmd.coords))
    if cmd.expected_revision is not None and cmd.expected_revision != meta.release_revision:
        return reject(
            RevisionMismatch(
                f"release revision is {meta.release_revision}, "
                f"not {cmd.expected_revision} as If-Match expected",
                current=meta.release_revision,
                expected=cmd.expected_revision,
            )
        )
    missing = sorted(v for v in cmd.spec.versions() if read_version(view, cmd.coords, v) is None)
    if missing:
        return reject(
            ReleaseVersionMissing(
                f"version(s) {', '.join(map(str, missing))} of {cmd.coords.path} do not exist",
                field="version",
                versions=missing,
            )
        )
    lock = _releaser_is_author(view, meta, cmd)
    if lock is not None:
        return reject(lock)
    revision = meta.release_revision + 1
    release = Release(revision, cmd.spec, cmd.actor, cmd.now)
    new_meta = replace(meta, release_revision=revision, updated_at=cmd.now)
    return Effects(
        writes=(
            (keys.release_key(cmd.coords, revision), dump(release.to_json())),
            (keys.config_key(cmd.coords), dump(new_meta.to_json())),
        ),
        events=(Event("release_changed", cmd.coords, {"revision": revision}),),
        result={"revision": revision},
    )


def _releaser_is_author(
    view: StateView, meta: ConfigMeta, cmd: SetRelease
) -> ReleaserIsAuthor | None:
    """The namespace lock: under `separate_releaser`, nobody releases a version they
    authored. Versions the current release already names are not checked again, so a
    rule change that keeps the same versions goes through."""
    if not meta.spec.separate_releaser:
        return None
    for number in sorted(cmd.spec.versions() - _current_release_versions(view, meta)):
        record = read_version(view, cmd.coords, number)
        if record is not None and record.author == cmd.actor:
            return ReleaserIsAuthor(
                f"version {number} was authored by {record.author}, who may not release it "
                "(this config requires a separate releaser)",
                version=number,
                author=record.author,
            )
    return None


def _retention_deletes(view: StateView, meta: ConfigMeta, now: str) -> list[Write]:
    """Versions the retention policy drops: never the latest, never a released one."""
    policy: Retention = meta.spec.retention
    if policy.keep_last is None and policy.keep_days is None:
        return []
    protected = {meta.latest_version}
    release = _current_release_versions(view, meta)
    protected |= release
    cutoff = (
        _parse_time(now) - timedelta(days=policy.keep_days)
        if policy.keep_days is not None
        else None
    )
    drops: list[Write] = []
    # Newest first; the new version is not stored yet, so it counts as rank 0.
    for rank, (key, raw) in enumerate(
        view.scan(keys.versions_prefix(meta.coords), reverse=True), 1
    ):
        number = keys.number_of(key)
        if number in protected:
            continue
        too_many = policy.keep_last is not None and rank >= policy.keep_last
        too_old = cutoff is not None and _parse_time(_created_at(raw)) < cutoff
        if too_many or too_old:
            drops.append((key, None))
    return drops


def _current_release_versions(view: StateView, meta: ConfigMeta) -> set[int]:
    raw = view.get(keys.release_key(meta.coords, meta.release_revision))
    if raw is None:
        return set()
    return set(Release.from_json(_json(raw)).spec.versions())


def _created_at(raw: bytes) -> str:
    return str(_json(raw)["created_at"])


def _json(raw: bytes) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(raw)
    return value


def _parse_time(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)
