"""`conflux config ...` against an in-process node."""

from __future__ import annotations

import json
from pathlib import Path

from tests.unit.cli.conftest import Cli


def push(run: Cli, tmp_path: Path, content: str, *extra: str) -> str:
    path = tmp_path / "content.json"
    path.write_text(content)
    return run.ok("config", "push", "db", str(path), *extra).stdout


def test_create_then_create_again_is_a_conflict_unless_update(run: Cli) -> None:
    result = run.ok("config", "create", "db", "--format", "json", "--label", "team=pay")
    assert result.stdout.strip() == "created config db (json)"
    again = run("config", "create", "db", "--format", "json")
    assert again.exit_code == 4
    assert again.stderr.startswith("error: already_exists: config db already exists")
    updated = run.ok("config", "create", "db", "--format", "json", "--label", "team=core",
                     "--keep-last", "5", "--update")  # fmt: skip
    assert updated.stdout.strip() == "updated config db (json)"
    meta = json.loads(run.ok("config", "show", "db", "-o", "json").stdout)
    assert meta["labels"] == {"team": "core"}
    assert meta["retention"]["keep_last"] == 5


def test_create_with_schema_enforces_it(run: Cli, tmp_path: Path) -> None:
    schema = tmp_path / "schema.yaml"
    schema.write_text("type: object\nrequired: [pool]\n")
    run.ok("config", "create", "db", "--format", "json", "--schema", str(schema))
    (tmp_path / "bad.json").write_text('{"other": 1}')
    result = run("config", "push", "db", str(tmp_path / "bad.json"))
    assert result.exit_code == 1
    assert result.stderr.startswith("error: schema_violation: ")
    assert "Traceback" not in result.output


def test_push_creates_versions_and_reports_unchanged(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    assert push(run, tmp_path, '{"pool": 1}', "-m", "first").startswith("created version 1 ")
    assert push(run, tmp_path, '{"pool": 1}').strip() == "unchanged (same as version 1)"
    assert push(run, tmp_path, '{"pool": 2}').startswith("created version 2 ")
    as_json = json.loads(
        run.ok("config", "push", "db", "-", "-o", "json", input='{"pool": 2}').stdout
    )
    assert as_json["created"] is False and as_json["version"] == 2


def test_push_from_stdin_and_get_round_trips_exact_content(run: Cli) -> None:
    run.ok("config", "create", "app", "--format", "text")
    content = "line one\n[markup] is not interpreted\nno final newline"
    run.ok("config", "push", "app", "-", input=content)
    assert run.ok("config", "get", "app").stdout == content


def test_get_a_given_version_and_json(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    push(run, tmp_path, '{"pool": 1}\n')
    push(run, tmp_path, '{"pool": 2}\n')
    assert run.ok("config", "get", "db").stdout == '{"pool": 2}\n'
    assert run.ok("config", "get", "db", "--version", "1").stdout == '{"pool": 1}\n'
    record = json.loads(run.ok("config", "get", "db", "--version", "1", "-o", "json").stdout)
    assert record["version"] == 1 and record["content"] == '{"pool": 1}\n'
    missing = run("config", "get", "db", "--version", "9")
    assert missing.exit_code == 3
    assert missing.stderr.startswith("error: version_not_found: ")


def test_get_without_versions_is_not_found(run: Cli) -> None:
    run.ok("config", "create", "db", "--format", "json")
    result = run("config", "get", "db")
    assert result.exit_code == 3
    assert result.stderr.strip() == "error: version_not_found: config db has no versions yet"


def test_versions_lists_newest_first(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    for i in range(3):
        push(run, tmp_path, f'{{"pool": {i}}}', "-m", f"change {i}")
    table = run.ok("config", "versions", "db").stdout.splitlines()
    assert table[0].split() == ["VERSION", "SHA256", "SIZE", "AUTHOR", "CREATED", "MESSAGE"]
    assert [line.split()[0] for line in table[1:]] == ["3", "2", "1"]
    assert table[1].endswith("change 2")
    items = json.loads(run.ok("config", "versions", "db", "-o", "json", "--limit", "2").stdout)
    assert [i["version"] for i in items] == [3, 2]
    assert items[0]["message"] == "change 2" and len(items[0]["sha256"]) == 64


def test_versions_pages_through_more_than_one_page(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    for i in range(25):
        push(run, tmp_path, f'{{"pool": {i}}}')
    items = json.loads(run.ok("config", "versions", "db", "-o", "json", "--limit", "0").stdout)
    assert [i["version"] for i in items] == list(range(25, 0, -1))


def test_diff_is_unified_and_colored_on_a_terminal(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    push(run, tmp_path, '{\n  "pool": 1,\n  "host": "a"\n}\n')
    push(run, tmp_path, '{\n  "pool": 2,\n  "host": "a"\n}\n')
    plain = run.ok("config", "diff", "db", "1", "latest").stdout
    assert plain.splitlines()[:2] == ["--- db@1", "+++ db@2"]
    assert '-  "pool": 1,' in plain.splitlines()
    assert '+  "pool": 2,' in plain.splitlines()
    assert "\x1b[" not in plain
    colored = run.ok("config", "diff", "db", "1", "2", env={"FORCE_COLOR": "1"}).stdout
    assert "\x1b[32m" in colored and "\x1b[31m" in colored
    as_json = json.loads(run.ok("config", "diff", "db", "1", "2", "-o", "json").stdout)
    assert as_json["from"] == 1 and as_json["to"] == 2 and '+  "pool": 2,' in as_json["diff"]


def test_diff_of_equal_versions_is_empty(run: Cli, tmp_path: Path) -> None:
    run.ok("config", "create", "db", "--format", "json")
    push(run, tmp_path, '{"pool": 1}')
    assert run.ok("config", "diff", "db", "1", "1").stdout == ""


def test_list_shows_configs_by_name(run: Cli, tmp_path: Path) -> None:
    assert run.ok("config", "list").stdout == ""
    run.ok("config", "create", "web", "--format", "yaml", "--label", "team=a")
    run.ok("config", "create", "db", "--format", "json")
    push(run, tmp_path, '{"pool": 1}')
    lines = run.ok("config", "list").stdout.splitlines()
    assert lines[0].split()[:4] == ["NAME", "FORMAT", "LATEST", "RELEASE"]
    assert lines[1].split()[:4] == ["db", "json", "1", "-"]
    assert lines[2].split()[:4] == ["web", "yaml", "-", "-"]
    assert lines[2].endswith("team=a")
    items = json.loads(run.ok("config", "list", "-o", "json").stdout)
    assert [i["name"] for i in items] == ["db", "web"]


def test_delete_needs_yes_when_not_interactive(run: Cli) -> None:
    run.ok("config", "create", "db", "--format", "json")
    refused = run("config", "delete", "db")
    assert refused.exit_code == 2
    assert "refusing to delete db without --yes" in refused.stderr
    run.ok("config", "show", "db")
    assert run.ok("config", "delete", "db", "--yes").stdout.strip() == "deleted config db"
    assert run("config", "show", "db").exit_code == 3


def test_bad_name_is_an_api_error(run: Cli) -> None:
    result = run("config", "create", "Bad_Name", "--format", "json")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: invalid_name: name must match")


def test_unknown_format_is_a_usage_error(run: Cli) -> None:
    result = run("config", "create", "db", "--format", "xml")
    assert result.exit_code == 2
    assert "'xml' is not one of" in result.stderr


def test_create_with_separate_releaser_sets_the_lock(run: Cli) -> None:
    run.ok("config", "create", "db", "--format", "json", "--separate-releaser")
    meta = json.loads(run.ok("config", "show", "db", "-o", "json").stdout)
    assert meta["separate_releaser"] is True
    assert "separate releaser" in run.ok("config", "show", "db").stdout
    run.ok("config", "create", "db", "--format", "json", "--update")
    meta = json.loads(run.ok("config", "show", "db", "-o", "json").stdout)
    assert meta["separate_releaser"] is False
