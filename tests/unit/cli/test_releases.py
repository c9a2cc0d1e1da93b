"""`conflux release ...`: rule syntax, show, history, If-Match and rollback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest

from conflux.cli.releases import match_text, parse_rules
from tests.unit.cli.conftest import Cli

CANARY = ["--rule", "canary=2", "--match", "canary:labels.zone=a", "--match", "canary:percent=10"]


def setup(run: Cli, versions: int = 3) -> None:
    run.ok("config", "create", "db", "--format", "json")
    for i in range(1, versions + 1):
        run.ok("config", "push", "db", "-", input=f'{{"v": {i}}}')


def current(run: Cli) -> Any:
    return json.loads(run.ok("release", "show", "db", "-o", "json").stdout)


def test_parse_rules_keeps_order_and_combines_conditions() -> None:
    rules = parse_rules(
        ["beta=3", "canary=2"],
        ["canary:labels.zone=a", "canary:ip=10.0.0.0/8", "canary:ip=fd00::/8",
         "canary:client=pod-1", "canary:percent=12.5", "beta:label.tier=web"],
    )  # fmt: skip
    assert rules == [
        {"name": "beta", "match": {"labels": {"tier": "web"}}, "version": 3},
        {
            "name": "canary",
            "match": {
                "labels": {"zone": "a"},
                "ip_cidrs": ["10.0.0.0/8", "fd00::/8"],
                "client_ids": ["pod-1"],
                "percentage": 12.5,
            },
            "version": 2,
        },
    ]
    assert match_text(rules[1]["match"]) == (
        "labels.zone=a ip=10.0.0.0/8 ip=fd00::/8 client=pod-1 percent=12.5"
    )
    assert match_text({}) == "(every client)"


@pytest.mark.parametrize(
    ("rules", "matches", "message"),
    [
        (["canary"], [], "is not NAME=VERSION"),
        (["canary=two"], [], "is not a version number"),
        (["canary=0"], [], "must be at least 1"),
        (["a=1", "a=2"], [], "given twice"),
        (["canary=2"], ["other:ip=1.2.3.4/32"], "declared: canary"),
        (["canary=2"], ["canary:zone=a"], "unknown condition 'zone'"),
        (["canary=2"], ["canary:percent=101"], "percent must be 0-100"),
        (["canary=2"], ["canary:ip"], "needs KEY=VALUE"),
    ],
)
def test_parse_rules_rejects_bad_syntax(rules: list[str], matches: list[str], message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        parse_rules(rules, matches)


def test_set_and_show_a_canary(run: Cli) -> None:
    setup(run)
    result = run.ok("release", "set", "db", "--default", "1", *CANARY, "-m", "canary zone a")
    assert result.stdout.strip() == "released db: revision 1, default version 1, 1 rule(s)"
    release = current(run)
    assert release["revision"] == 1 and release["default_version"] == 1
    assert release["message"] == "canary zone a"
    assert release["rules"] == [
        {"name": "canary", "match": {"labels": {"zone": "a"}, "percentage": 10}, "version": 2}
    ]
    shown = run.ok("release", "show", "db").stdout
    assert "canary  2        labels.zone=a percent=10" in shown


def test_bad_rule_syntax_exits_2_and_sends_nothing(run: Cli) -> None:
    setup(run)
    result = run("release", "set", "db", "--default", "1", "--rule", "canary=2",
                 "--match", "canary:zone=a")  # fmt: skip
    assert result.exit_code == 2
    assert "unknown condition 'zone'" in result.stderr
    assert run("release", "show", "db").exit_code == 3


def test_default_is_required(run: Cli) -> None:
    setup(run)
    result = run("release", "set", "db", "--rule", "canary=2")
    assert result.exit_code == 2
    assert "--default is required" in result.stderr


def test_latest_is_pinned_to_a_number(run: Cli) -> None:
    setup(run)
    body = json.loads(
        run.ok("release", "set", "db", "--default", "1", "--rule", "new=latest", "--dry-run").stdout
    )
    assert body == {"rules": [{"name": "new", "match": {}, "version": 3}], "default_version": 1}
    assert run("release", "show", "db").exit_code == 3  # dry run sent nothing
    run.ok("release", "set", "db", "--default", "latest")
    assert current(run)["default_version"] == 3


def test_release_of_a_missing_version_is_rejected(run: Cli) -> None:
    setup(run, versions=1)
    result = run("release", "set", "db", "--default", "7")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: release_version_missing: ")


def test_if_match_guards_against_a_concurrent_release(run: Cli) -> None:
    setup(run)
    run.ok("release", "set", "db", "--default", "1")
    run.ok("release", "set", "db", "--default", "2", "--if-match", "1")
    stale = run("release", "set", "db", "--default", "3", "--if-match", "1")
    assert stale.exit_code == 4
    assert stale.stderr.startswith("error: revision_mismatch: ")
    assert "(current revision 2)" in stale.stderr
    assert current(run)["default_version"] == 2


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_rules_file(run: Cli, tmp_path: Path, suffix: str) -> None:
    setup(run)
    spec = {
        "default_version": 1,
        "message": "from file",
        "rules": [
            {"name": "ops", "match": {"client_ids": ["pod-1"]}, "version": 3},
            {"name": "canary", "match": {"ip_cidrs": ["10.0.0.0/8"]}, "version": "latest"},
        ],
    }
    path = tmp_path / f"rules{suffix}"
    path.write_text(json.dumps(spec))  # JSON is valid YAML too
    run.ok("release", "set", "db", "--rules-file", str(path))
    release = current(run)
    assert release["default_version"] == 1 and release["message"] == "from file"
    assert [(r["name"], r["version"]) for r in release["rules"]] == [("ops", 3), ("canary", 3)]
    # a plain list is accepted too; --default is then required
    path.write_text(json.dumps(spec["rules"]))
    assert run("release", "set", "db", "--rules-file", str(path)).exit_code == 2
    run.ok("release", "set", "db", "--rules-file", str(path), "--default", "2")
    assert current(run)["default_version"] == 2


def test_rules_file_rejects_unknown_keys_and_mixing(run: Cli, tmp_path: Path) -> None:
    setup(run)
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"name": "x", "version": 1, "match": {"zone": "a"}}]))
    result = run("release", "set", "db", "--default", "1", "--rules-file", str(path))
    assert result.exit_code == 2 and "unknown key 'zone'" in result.stderr
    mixed = run("release", "set", "db", "--default", "1", "--rules-file", str(path), *CANARY)
    assert mixed.exit_code == 2 and "cannot be combined" in mixed.stderr


def test_history_newest_first(run: Cli) -> None:
    setup(run)
    run.ok("release", "set", "db", "--default", "1")
    run.ok("release", "set", "db", "--default", "1", *CANARY)
    lines = run.ok("release", "history", "db").stdout.splitlines()
    assert lines[0].split()[:3] == ["REVISION", "DEFAULT", "RULES"]
    assert lines[1].split()[:3] == ["2", "1", "canary→2"]
    assert lines[2].split()[:3] == ["1", "1", "-"]
    items = json.loads(run.ok("release", "history", "db", "-o", "json").stdout)
    assert [i["revision"] for i in items] == [2, 1]


def test_rollback_restores_the_previous_release_as_a_new_revision(run: Cli) -> None:
    setup(run)
    run.ok("release", "set", "db", "--default", "1", *CANARY)
    run.ok("release", "set", "db", "--default", "3")
    result = run.ok("release", "rollback", "db")
    assert result.stdout.strip() == (
        "rolled back db to revision 1 as revision 3 (default version 1, 1 rule(s))"
    )
    release = current(run)
    assert release["revision"] == 3 and release["default_version"] == 1
    assert release["rules"][0]["name"] == "canary"
    assert release["message"] == "rollback to revision 1"
    run.ok("release", "rollback", "db", "--to-revision", "2", "-m", "again")
    release = current(run)
    assert (release["revision"], release["default_version"], release["rules"]) == (4, 3, [])
    assert release["message"] == "again"


def test_rollback_errors(run: Cli) -> None:
    setup(run)
    never = run("release", "rollback", "db")
    assert never.exit_code == 3 and never.stderr.startswith("error: release_not_found: ")
    run.ok("release", "set", "db", "--default", "1")
    first = run("release", "rollback", "db")
    assert first.exit_code == 4
    assert "there is no earlier release" in first.stderr
    missing = run("release", "rollback", "db", "--to-revision", "5")
    assert missing.exit_code == 3
    assert missing.stderr.strip() == "error: release_not_found: db has no release revision 5"
