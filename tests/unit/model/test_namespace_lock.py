"""The namespace lock: with `separate_releaser`, nobody releases a version they authored."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from conflux_node.model import commands, keys
from conflux_node.model.apply import Effects
from conflux_node.model.commands import CreateVersion, PutConfig, SetRelease
from conflux_node.model.entities import ConfigSpec, Match, ReleaseSpec, Rule
from conflux_node.model.errors import InvalidInput, ReleaserIsAuthor
from conflux_node.model.view import read_config, read_release
from conflux_node.service.bodies import parse_config_spec
from tests.unit.model.support import T0, T1, C, Harness, tenant

ALICE, BOB, CAROL = "user:alice", "user:bob", "user:carol"


def put(*, lock: bool, now: str = T0) -> PutConfig:
    return PutConfig(C, ConfigSpec(format="json", separate_releaser=lock), "ss", ALICE, now)


def version(content: str, author: str) -> CreateVersion:
    return CreateVersion(C, content, f"sha-{content}", "msg", "ss", author, T0)


def release(default: int, actor: str, rules: Sequence[Rule] = ()) -> SetRelease:
    return SetRelease(C, ReleaseSpec(tuple(rules), default, "go"), None, actor, T1)


def canary(number: int, name: str = "canary", percentage: float = 10) -> Rule:
    return Rule(name, Match(percentage=percentage), number)


@pytest.fixture
def h() -> Harness:
    harness = Harness()
    assert harness.run(tenant(C.tenant)).ok
    return harness


def locked(h: Harness, *, versions_by: Sequence[str] = (ALICE,)) -> Harness:
    """A locked config with one version per author in `versions_by`, numbered from 1."""
    assert h.run(put(lock=True)).ok
    for n, author in enumerate(versions_by, 1):
        assert h.run(version(f'{{"v": {n}}}', author)).result["created"] is True  # type: ignore[index]
    return h


def refused(h: Harness, command: SetRelease) -> ReleaserIsAuthor:
    effects: Effects = h.run(command)
    assert isinstance(effects.result, ReleaserIsAuthor), effects.result
    assert [k for k, _ in effects.writes if not k.startswith(keys.AUDIT_PREFIX)] == [keys.AUDIT_SEQ]
    assert effects.events == ()
    return effects.result


def test_author_may_not_release_own_version_when_locked(h: Harness) -> None:
    locked(h)
    error = refused(h, release(1, ALICE))
    assert error.code == "releaser_is_author"
    assert error.details == {"version": 1, "author": ALICE}
    assert error.message == (
        "version 1 was authored by user:alice, who may not release it "
        "(this config requires a separate releaser)"
    )
    meta = read_config(h.store, C)
    assert meta is not None and meta.release_revision == 0


def test_another_actor_may_release_it(h: Harness) -> None:
    locked(h)
    effects = h.run(release(1, BOB))
    assert effects.ok
    assert effects.result == {"revision": 1}


def test_lock_off_lets_the_author_release(h: Harness) -> None:
    assert h.run(put(lock=False)).ok
    h.run(version("{}", ALICE))
    assert h.run(release(1, ALICE)).ok


def test_rule_versions_are_checked_too(h: Harness) -> None:
    locked(h, versions_by=(BOB, ALICE))
    error = refused(h, release(1, ALICE, [canary(2)]))
    assert error.details == {"version": 2, "author": ALICE}
    assert refused(h, release(1, BOB, [canary(2)])).details == {"version": 1, "author": BOB}
    assert h.run(release(1, CAROL, [canary(2)])).ok


def test_versions_already_released_are_not_checked_again(h: Harness) -> None:
    locked(h, versions_by=(ALICE, ALICE))
    assert h.run(release(1, BOB, [canary(2)])).ok
    # Alice widens the canary and renames it: the same versions, so no new release.
    effects = h.run(release(1, ALICE, [canary(2, "wider", 50)]))
    assert effects.ok
    current = read_release(h.store, C, 2)
    assert current is not None and current.author == ALICE
    # Promoting her own version 2 to the default is new for the default, but not for
    # the release, which already serves it.
    assert h.run(release(2, ALICE)).ok
    # Rolling back to version 1 is a version the current release no longer names.
    assert refused(h, release(1, ALICE)).details == {"version": 1, "author": ALICE}


def test_update_toggles_the_lock(h: Harness) -> None:
    assert h.run(put(lock=False)).ok
    h.run(version("{}", ALICE))
    h.run(version("[]", ALICE))
    assert h.run(release(1, ALICE)).ok
    assert h.run(put(lock=True, now=T1)).ok
    meta = read_config(h.store, C)
    assert meta is not None and meta.spec.separate_releaser is True
    assert meta.latest_version == 2 and meta.release_revision == 1
    refused(h, release(2, ALICE))
    assert h.run(put(lock=False, now=T1)).ok
    assert h.run(release(2, ALICE)).ok


def test_config_json_carries_the_flag(h: Harness) -> None:
    effects = h.run(put(lock=True))
    assert effects.result["config"]["separate_releaser"] is True  # type: ignore[index]


def test_records_without_the_field_read_as_unlocked() -> None:
    spec = ConfigSpec.from_json({"format": "json", "labels": {}, "retention": {}})
    assert spec.separate_releaser is False
    assert ConfigSpec(format="json").to_json()["separate_releaser"] is False


def test_command_round_trip_keeps_the_flag() -> None:
    command = put(lock=True)
    assert commands.decode(commands.encode(command)) == command


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"format": "json"}, False),
        ({"format": "json", "separate_releaser": True}, True),
        ({"format": "json", "separate_releaser": False}, False),
    ],
)
def test_body_parses_the_flag(body: dict[str, object], expected: bool) -> None:
    assert parse_config_spec(body).separate_releaser is expected


@pytest.mark.parametrize("value", ["yes", 1, 0, None, [], {}])
def test_body_rejects_a_non_boolean(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_config_spec({"format": "json", "separate_releaser": value})
    assert type(caught.value) is InvalidInput
    assert caught.value.details == {"field": "separate_releaser"}
