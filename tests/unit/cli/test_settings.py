"""Settings resolution: flags > environment > config file > default endpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conflux.cli.settings import DEFAULT_ENDPOINT, SettingsError, resolve
from tests.unit.cli.conftest import Cli, Node

FILE = """
endpoints = ["http://file-1:7081", "http://file-2:7081/"]
tenant = "file-tenant"
app = "file-app"
env = "file-env"
token = "file-token"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "conflux.toml"
    path.write_text(text)
    return path


def test_default_endpoint_when_nothing_is_set(tmp_path: Path) -> None:
    settings = resolve({}, {"HOME": str(tmp_path)})
    assert settings.endpoints == (DEFAULT_ENDPOINT,)
    assert settings.tenant is None and settings.token is None
    assert settings.sources["endpoints"] == "default"


def test_file_is_read_from_the_home_config_dir(tmp_path: Path) -> None:
    (tmp_path / ".config" / "conflux").mkdir(parents=True)
    (tmp_path / ".config" / "conflux" / "config.toml").write_text(FILE)
    settings = resolve({}, {"HOME": str(tmp_path)})
    assert settings.endpoints == ("http://file-1:7081", "http://file-2:7081")
    assert (settings.tenant, settings.app, settings.env) == ("file-tenant", "file-app", "file-env")
    assert settings.token == "file-token"


def test_env_beats_file_and_flags_beat_env(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    environ = {
        "HOME": str(tmp_path),
        "CONFLUX_CONFIG_FILE": str(path),
        "CONFLUX_ENDPOINTS": "http://env-1:1, http://env-2:2",
        "CONFLUX_TENANT": "env-tenant",
        "CONFLUX_TOKEN": "env-token",
    }
    settings = resolve({}, environ)
    assert settings.endpoints == ("http://env-1:1", "http://env-2:2")
    assert settings.tenant == "env-tenant" and settings.token == "env-token"
    assert settings.app == "file-app"  # not in env: the file still counts
    assert settings.sources["tenant"] == "env" and settings.sources["app"] == str(path)

    flagged = resolve({"endpoints": ("http://flag:3",), "tenant": "flag-tenant"}, environ)
    assert flagged.endpoints == ("http://flag:3",)
    assert flagged.tenant == "flag-tenant" and flagged.sources["tenant"] == "flag"
    assert flagged.token == "env-token"


def test_explicit_config_flag_beats_the_env_path(tmp_path: Path) -> None:
    env_file = write(tmp_path, 'tenant = "from-env-path"\n')
    flag_file = tmp_path / "other.toml"
    flag_file.write_text('tenant = "from-flag-path"\n')
    environ = {"HOME": str(tmp_path), "CONFLUX_CONFIG_FILE": str(env_file)}
    assert resolve({}, environ).tenant == "from-env-path"
    assert resolve({"config": str(flag_file)}, environ).tenant == "from-flag-path"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tenant = ", "not valid TOML"),
        ('tenannt = "x"\n', "unknown key 'tenannt'"),
        ("tenant = 3\n", "tenant must be a string"),
        ("endpoints = [1]\n", "endpoints must be a string or a list of strings"),
        ('endpoints = "ftp://x"\n', "must start with http:// or https://"),
    ],
)
def test_bad_files_are_refused_with_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(SettingsError, match=message):
        resolve({"config": str(path)}, {"HOME": str(tmp_path)})


def test_missing_explicit_file_is_an_error_but_missing_default_is_not(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        resolve({"config": str(tmp_path / "nope.toml")}, {"HOME": str(tmp_path)})
    assert resolve({}, {"HOME": str(tmp_path / "nobody")}).endpoints == (DEFAULT_ENDPOINT,)


def test_scope_names_the_missing_part() -> None:
    settings = resolve({"tenant": "t", "app": "a"}, {"HOME": "/nonexistent"})
    with pytest.raises(SettingsError, match="no env: pass --env, set CONFLUX_ENV"):
        settings.scope()


# --- through the command line -----------------------------------------------------


def test_cli_flag_endpoint_wins_over_a_dead_env_endpoint(run: Cli, node: Node) -> None:
    dead = {"CONFLUX_ENDPOINTS": "http://127.0.0.1:9"}
    assert run("cluster", "status", env=dead).exit_code == 5
    run.ok("--endpoint", node.url, "cluster", "status", env=dead)


def test_cli_reads_the_config_file(run: Cli, node: Node, tmp_path: Path) -> None:
    path = write(tmp_path, f'endpoints = ["{node.url}"]\ntenant = "acme"\napp = "shop"\n')
    env = {"CONFLUX_ENDPOINTS": "", "CONFLUX_TENANT": "", "CONFLUX_APP": "", "CONFLUX_ENV": ""}
    result = run("--config", str(path), "config", "list", env=env)
    assert result.exit_code == 2
    assert "no env: pass --env" in result.stderr
    run.ok("--config", str(path), "--env", "prod", "config", "list", env=env)


def test_cli_bad_config_file_is_a_usage_error(run: Cli, tmp_path: Path) -> None:
    path = write(tmp_path, "tenant = \n")
    result = run("config", "list", env={"CONFLUX_CONFIG_FILE": str(path)})
    assert result.exit_code == 2
    assert "not valid TOML" in result.stderr
    assert "Traceback" not in result.output


def test_options_after_the_command_override_those_before(run: Cli, node: Node) -> None:
    run.ok("config", "create", "db", "--format", "json")
    result = run("--tenant", "other", "config", "list", "--tenant", "acme", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert [item["name"] for item in json.loads(result.stdout)] == ["db"]
