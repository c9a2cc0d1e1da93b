"""Settings: precedence of defaults < file < env < flags, member specs, and exact error texts."""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import sys
import tomllib
from collections.abc import Mapping, Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conflux_node.app import exposure_warnings
from conflux_node.settings import (
    HttpSettings,
    LimitSettings,
    Member,
    RaftSettings,
    Settings,
    SettingsError,
    TlsSettings,
    build_parser,
    load_from_process,
    load_settings,
)

N1 = "n1@127.0.0.1:7071@http://127.0.0.1:7081"
N2 = "n2@127.0.0.1:7072@http://127.0.0.1:7082"
N3 = "n3@127.0.0.1:7073@http://127.0.0.1:7083"
THREE = f"{N1},{N2},{N3}"

MINIMAL = ["--node-id", "n1", "--member", N1]

FULL_TOML = """\
node_id = "n1"
data_dir = ".conflux/dev/n1"
log_level = "INFO"
grpc_port = 7091

[http]
host = "127.0.0.1"
port = 7081

[raft]
address = "127.0.0.1:7071"
fsync = true
election_min = 0.4
election_max = 1.4
compaction_min_entries = 5000
compaction_min_seconds = 300

[limits]
max_content_bytes = 1048576
request_timeout = 5.0

[[members]]
id = "n1"
raft = "127.0.0.1:7071"
http = "http://127.0.0.1:7081"

[[members]]
id = "n2"
raft = "127.0.0.1:7072"
http = "http://127.0.0.1:7082"

[[members]]
id = "n3"
raft = "127.0.0.1:7073"
http = "http://127.0.0.1:7083"
"""


def load(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> Settings:
    return load_settings(argv, env or {})


def error_of(argv: Sequence[str] = (), env: Mapping[str, str] | None = None) -> str:
    with pytest.raises(SettingsError) as info:
        load(argv, env)
    return str(info.value)


def write(tmp_path: pathlib.Path, text: str, name: str = "node.toml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


# ---------------------------------------------------------------------------------------------
# Defaults and the full file layout


def test_defaults_fill_everything_but_node_id_and_members() -> None:
    settings = load(MINIMAL)
    assert settings == Settings(
        node_id="n1",
        data_dir=pathlib.Path(".conflux/n1"),
        http=HttpSettings(host="127.0.0.1", port=7081),
        raft=RaftSettings(
            address="127.0.0.1:7071",
            fsync=True,
            election_min=0.4,
            election_max=1.4,
            compaction_min_entries=50000,
            compaction_min_seconds=300,
        ),
        members=(Member("n1", "127.0.0.1:7071", "http://127.0.0.1:7081"),),
        limits=LimitSettings(max_content_bytes=1048576, request_timeout=5.0),
        log_level="INFO",
        grpc_port=None,
    )


def test_raft_address_defaults_to_own_member_entry_not_the_first() -> None:
    settings = load(["--node-id", "n2"], {"CONFLUX_MEMBERS": THREE})
    assert settings.raft.address == "127.0.0.1:7072"
    assert settings.data_dir == pathlib.Path(".conflux/n2")


def test_full_file_is_read(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, FULL_TOML)
    settings = load(["--config", path])
    assert settings.node_id == "n1"
    assert settings.data_dir == pathlib.Path(".conflux/dev/n1")
    assert settings.grpc_port == 7091
    assert settings.http == HttpSettings("127.0.0.1", 7081)
    assert settings.raft == RaftSettings("127.0.0.1:7071", True, 0.4, 1.4, 5000, 300)
    assert settings.limits == LimitSettings(1048576, 5.0)
    assert [m.id for m in settings.members] == ["n1", "n2", "n3"]


def test_every_value_can_come_from_the_file(tmp_path: pathlib.Path) -> None:
    text = (
        FULL_TOML.replace('data_dir = ".conflux/dev/n1"', 'data_dir = "/var/lib/conflux"')
        .replace('log_level = "INFO"', 'log_level = "DEBUG"')
        .replace('host = "127.0.0.1"', 'host = "0.0.0.0"')
        .replace("port = 7081", "port = 8081")
        .replace('address = "127.0.0.1:7071"', 'address = "0.0.0.0:7071"')
        .replace("fsync = true", "fsync = false")
        .replace("election_min = 0.4", "election_min = 1")
        .replace("election_max = 1.4", "election_max = 3")
        .replace("compaction_min_entries = 5000", "compaction_min_entries = 10")
        .replace("compaction_min_seconds = 300", "compaction_min_seconds = 0")
        .replace("max_content_bytes = 1048576", "max_content_bytes = 2048")
        .replace("request_timeout = 5.0", "request_timeout = 2")
    )
    settings = load(["--config", write(tmp_path, text)])
    assert settings.data_dir == pathlib.Path("/var/lib/conflux")
    assert settings.log_level == "DEBUG"
    assert settings.http == HttpSettings("0.0.0.0", 8081)
    assert settings.raft == RaftSettings("0.0.0.0:7071", False, 1.0, 3.0, 10, 0)
    assert settings.limits == LimitSettings(2048, 2.0)


def test_floats_accept_integers_and_become_floats(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, FULL_TOML.replace("request_timeout = 5.0", "request_timeout = 7"))
    timeout = load(["--config", path]).limits.request_timeout
    assert timeout == 7.0
    assert type(timeout) is float


def test_self_member_and_peers() -> None:
    settings = load(["--node-id", "n2"], {"CONFLUX_MEMBERS": THREE})
    assert settings.self_member == Member("n2", "127.0.0.1:7072", "http://127.0.0.1:7082")
    assert [m.id for m in settings.peers] == ["n1", "n3"]
    assert load(MINIMAL).peers == ()


def test_settings_are_frozen() -> None:
    settings = load(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.node_id = "n2"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.http.port = 1  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------
# Precedence: defaults < file < env < flags


def test_file_overrides_defaults(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[http]\nport = 9001\n")
    assert load(["--config", path, *MINIMAL]).http.port == 9001


@pytest.mark.parametrize(
    ("env", "argv", "expected"),
    [
        ({}, [], 9001),
        ({"CONFLUX_HTTP_PORT": "9002"}, [], 9002),
        ({"CONFLUX_HTTP_PORT": "9002"}, ["--http-port", "9003"], 9003),
        ({}, ["--http-port", "9003"], 9003),
    ],
)
def test_http_port_precedence(
    tmp_path: pathlib.Path, env: dict[str, str], argv: list[str], expected: int
) -> None:
    path = write(tmp_path, "[http]\nport = 9001\n")
    assert load(["--config", path, *MINIMAL, *argv], env).http.port == expected


def test_precedence_for_every_kind_of_value(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, FULL_TOML)
    env = {
        "CONFLUX_NODE_ID": "n2",
        "CONFLUX_DATA_DIR": "/env/data",
        "CONFLUX_LOG_LEVEL": "WARNING",
        "CONFLUX_GRPC_PORT": "7092",
        "CONFLUX_HTTP_HOST": "0.0.0.0",
        "CONFLUX_HTTP_PORT": "8082",
        "CONFLUX_RAFT_ADDRESS": "0.0.0.0:7072",
        "CONFLUX_RAFT_FSYNC": "false",
        "CONFLUX_RAFT_ELECTION_MIN": "0.5",
        "CONFLUX_RAFT_ELECTION_MAX": "2",
        "CONFLUX_RAFT_COMPACTION_MIN_ENTRIES": "100",
        "CONFLUX_RAFT_COMPACTION_MIN_SECONDS": "60",
        "CONFLUX_MAX_CONTENT_BYTES": "4096",
        "CONFLUX_REQUEST_TIMEOUT": "2.5",
    }
    from_env = load(["--config", path], env)
    assert from_env.node_id == "n2"
    assert from_env.data_dir == pathlib.Path("/env/data")
    assert from_env.log_level == "WARNING"
    assert from_env.grpc_port == 7092
    assert from_env.http == HttpSettings("0.0.0.0", 8082)
    assert from_env.raft == RaftSettings("0.0.0.0:7072", False, 0.5, 2.0, 100, 60)
    assert from_env.limits == LimitSettings(4096, 2.5)

    flags = [
        "--config", path,
        "--node-id", "n3",
        "--data-dir", "/flag/data",
        "--log-level", "ERROR",
        "--grpc-port", "7093",
        "--http-host", "localhost",
        "--http-port", "8083",
        "--raft-address", "localhost:7073",
        "--election-min", "0.7",
        "--election-max", "3.5",
        "--compaction-min-entries", "200",
        "--compaction-min-seconds", "90",
        "--max-content-bytes", "8192",
        "--request-timeout", "9",
    ]  # fmt: skip
    env["CONFLUX_RAFT_FSYNC"] = "true"
    from_flags = load([*flags, "--no-fsync"], env)
    assert from_flags.node_id == "n3"
    assert from_flags.data_dir == pathlib.Path("/flag/data")
    assert from_flags.log_level == "ERROR"
    assert from_flags.grpc_port == 7093
    assert from_flags.http == HttpSettings("localhost", 8083)
    assert from_flags.raft == RaftSettings("localhost:7073", False, 0.7, 3.5, 200, 90)
    assert from_flags.limits == LimitSettings(8192, 9.0)
    assert load(flags, env).raft.fsync is True


def test_env_members_replace_file_members_and_flag_members_replace_both(
    tmp_path: pathlib.Path,
) -> None:
    path = write(tmp_path, FULL_TOML)
    env = {"CONFLUX_MEMBERS": "n1@10.0.0.1:7071@http://10.0.0.1:7081"}
    assert load(["--config", path], env).members == (
        Member("n1", "10.0.0.1:7071", "http://10.0.0.1:7081"),
    )
    flags = ["--config", path, "--member", N1, "--member", N2, "--member", N3]
    assert [m.id for m in load(flags, env).members] == ["n1", "n2", "n3"]
    assert load(flags, env).members[0].raft == "127.0.0.1:7071"


def test_config_flag_wins_over_conflux_config(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, FULL_TOML)
    missing = str(tmp_path / "absent.toml")
    assert load(["--config", path], {"CONFLUX_CONFIG": missing}).node_id == "n1"
    assert error_of([], {"CONFLUX_CONFIG": missing}) == f"settings file not found: {missing}"


def test_config_path_from_env(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, FULL_TOML)
    assert load([], {"CONFLUX_CONFIG": path}).grpc_port == 7091


def test_unknown_conflux_variables_are_ignored() -> None:
    env = {
        "CONFLUX_TOKEN": "secret",
        "CONFLUX_SERVER": "not a url",
        "CONFLUX_HTTP_PORTS": "nonsense",
        "OTHER": "x",
    }
    assert load(MINIMAL, env) == load(MINIMAL)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
    ],
)
def test_fsync_from_env(text: str, expected: bool) -> None:
    assert load(MINIMAL, {"CONFLUX_RAFT_FSYNC": text}).raft.fsync is expected


def test_log_level_is_case_insensitive_and_normalised() -> None:
    assert load([*MINIMAL, "--log-level", "debug"]).log_level == "DEBUG"


# ---------------------------------------------------------------------------------------------
# Member specs


def test_member_spec_parts() -> None:
    spec = "node-1.a@conflux-0.conflux.default.svc:7071@https://conflux-0.example:8443/"
    settings = load(["--node-id", "node-1.a", "--member", spec])
    # A trailing slash is dropped so callers can append paths.
    assert settings.members == (
        Member("node-1.a", "conflux-0.conflux.default.svc:7071", "https://conflux-0.example:8443"),
    )


def test_member_spec_url_may_contain_at_sign() -> None:
    settings = load(["--node-id", "n1", "--member", "n1@h:1@http://user@h:2"])
    assert settings.self_member.http == "http://user@h:2"


def test_env_member_list_tolerates_spaces() -> None:
    settings = load(["--node-id", "n1"], {"CONFLUX_MEMBERS": f" {N1} , {N2} ,{N3}"})
    assert [m.raft for m in settings.members] == [
        "127.0.0.1:7071",
        "127.0.0.1:7072",
        "127.0.0.1:7073",
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            "n1",
            "invalid setting members[0]: must be ID@RAFTHOST:PORT@HTTPURL "
            "(got 'n1' from flag --member)",
        ),
        (
            "n1@127.0.0.1:7071",
            "invalid setting members[0]: must be ID@RAFTHOST:PORT@HTTPURL "
            "(got 'n1@127.0.0.1:7071' from flag --member)",
        ),
        (
            "N1@127.0.0.1:7071@http://h:1",
            "invalid setting members[0].id: must match [a-z0-9]([-a-z0-9_.]*[a-z0-9])? "
            "(got 'N1' from flag --member)",
        ),
        (
            "n1@127.0.0.1@http://h:1",
            "invalid setting members[0].raft: must be HOST:PORT with an IPv4 address or "
            "hostname and a port 1..65535 (got '127.0.0.1' from flag --member)",
        ),
        (
            "n1@127.0.0.1:7071@ftp://h:1",
            "invalid setting members[0].http: must start with http:// or https:// "
            "(got 'ftp://h:1' from flag --member)",
        ),
        (
            "n1@127.0.0.1:7071@http://",
            "invalid setting members[0].http: must be a URL with an IPv4 address or hostname "
            "and an optional port 1..65535 (got 'http://' from flag --member)",
        ),
        (
            "n1@127.0.0.1:7071@http://h:0",
            "invalid setting members[0].http: must be a URL with an IPv4 address or hostname "
            "and an optional port 1..65535 (got 'http://h:0' from flag --member)",
        ),
    ],
)
def test_bad_member_spec_from_flag(spec: str, expected: str) -> None:
    assert error_of(["--node-id", "n1", "--member", spec]) == expected


def test_bad_member_spec_index_counts_within_env_list() -> None:
    env = {"CONFLUX_MEMBERS": f"{N1},{N2},n3@127.0.0.1:99999@http://h"}
    assert error_of(["--node-id", "n1"], env) == (
        "invalid setting members[2].raft: must be HOST:PORT with an IPv4 address or hostname "
        "and a port 1..65535 (got '127.0.0.1:99999' from env CONFLUX_MEMBERS)"
    )


def test_empty_item_in_env_member_list() -> None:
    assert error_of(["--node-id", "n1"], {"CONFLUX_MEMBERS": f"{N1},"}) == (
        "invalid setting members[1]: must be ID@RAFTHOST:PORT@HTTPURL "
        "(got '' from env CONFLUX_MEMBERS)"
    )


@pytest.mark.parametrize(
    "address",
    ["127.0.0.1", ":7071", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:0", "127.0.0.1:65536",
     "256.0.0.1:7071", "[::1]:7071", "-bad-.host:7071", "a_b:7071", "h:+70"],
)  # fmt: skip
def test_bad_host_port(address: str) -> None:
    assert error_of([*MINIMAL, f"--raft-address={address}"]) == (
        "invalid setting raft.address: must be HOST:PORT with an IPv4 address or hostname "
        f"and a port 1..65535 (got {address!r} from flag --raft-address)"
    )


@pytest.mark.parametrize("address", ["10.1.2.3:1", "localhost:65535", "a-b.c-d.example:7071"])
def test_good_host_port(address: str) -> None:
    assert load([*MINIMAL, "--raft-address", address]).raft.address == address


# ---------------------------------------------------------------------------------------------
# Required settings and cluster rules


def test_missing_node_id() -> None:
    assert error_of(["--member", N1]) == (
        "missing setting node_id: set node_id in the file, CONFLUX_NODE_ID or --node-id"
    )


def test_missing_members() -> None:
    assert error_of(["--node-id", "n1"]) == (
        "missing setting members: set [[members]] in the file, CONFLUX_MEMBERS or --member"
    )


@pytest.mark.parametrize("node_id", ["N1", "-n1", "n1-", "n 1", "", "n1\n", "é"])
def test_bad_node_id(node_id: str) -> None:
    assert error_of(["--member", N1], {"CONFLUX_NODE_ID": node_id}) == (
        "invalid setting node_id: must match [a-z0-9]([-a-z0-9_.]*[a-z0-9])? "
        f"(got {node_id!r} from env CONFLUX_NODE_ID)"
    )


@pytest.mark.parametrize("count", [2, 4, 6, 8])
def test_member_count_must_be_odd_and_at_most_seven(count: int) -> None:
    specs = [f"n{i}@127.0.0.1:{7070 + i}@http://127.0.0.1:{8080 + i}" for i in range(count)]
    raw = ",".join(specs)
    assert error_of(["--node-id", "n0"], {"CONFLUX_MEMBERS": raw}) == (
        f"invalid setting members: a cluster has 1, 3, 5 or 7 members, got {count} "
        f"(got {raw!r} from env CONFLUX_MEMBERS)"
    )


@pytest.mark.parametrize("count", [1, 3, 5, 7])
def test_allowed_member_counts(count: int) -> None:
    argv = ["--node-id", "n0"]
    for i in range(count):
        argv += ["--member", f"n{i}@127.0.0.1:{7070 + i}@http://127.0.0.1:{8080 + i}"]
    assert len(load(argv).members) == count


def test_member_count_message_from_flags() -> None:
    assert error_of(["--node-id", "n1", "--member", N1, "--member", N2]) == (
        "invalid setting members: a cluster has 1, 3, 5 or 7 members, got 2 "
        f"(got {[N1, N2]!r} from flag --member)"
    )


def test_member_count_message_from_empty_file_list(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, 'node_id = "n1"\nmembers = []\n')
    assert error_of(["--config", path]) == (
        f"invalid setting members: a cluster has 1, 3, 5 or 7 members, got 0 "
        f"(got [] from file {path})"
    )


def test_duplicate_member_id() -> None:
    env = {"CONFLUX_MEMBERS": f"{N1},{N2},n1@127.0.0.1:7079@http://127.0.0.1:7089"}
    assert error_of(["--node-id", "n1"], env) == (
        "invalid setting members[2].id: duplicate member id (got 'n1' from env CONFLUX_MEMBERS)"
    )


def test_duplicate_raft_address() -> None:
    env = {"CONFLUX_MEMBERS": f"{N1},{N2},n3@127.0.0.1:07072@http://127.0.0.1:7083"}
    assert error_of(["--node-id", "n1"], env) == (
        "invalid setting members[2].raft: duplicate raft address "
        "(got '127.0.0.1:07072' from env CONFLUX_MEMBERS)"
    )


def test_node_id_must_be_a_member() -> None:
    assert error_of(["--node-id", "n9"], {"CONFLUX_MEMBERS": THREE}) == (
        "invalid setting node_id: must be one of the member ids n1, n2, n3 "
        "(got 'n9' from flag --node-id)"
    )


# ---------------------------------------------------------------------------------------------
# Value rules, each with its exact message


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--http-port", "0"],
            "invalid setting http.port: must be between 1 and 65535 "
            "(got '0' from flag --http-port)",
        ),
        (
            ["--http-port", "65536"],
            "invalid setting http.port: must be between 1 and 65535 "
            "(got '65536' from flag --http-port)",
        ),
        (
            ["--http-port", "80.5"],
            "invalid setting http.port: must be an integer (got '80.5' from flag --http-port)",
        ),
        (
            ["--grpc-port", "70000"],
            "invalid setting grpc_port: must be between 1 and 65535 "
            "(got '70000' from flag --grpc-port)",
        ),
        (
            ["--http-host", "bad host"],
            "invalid setting http.host: must be an IPv4 address or a hostname "
            "(got 'bad host' from flag --http-host)",
        ),
        (
            ["--election-min", "0"],
            "invalid setting raft.election_min: must be greater than 0 "
            "(got '0' from flag --election-min)",
        ),
        (
            ["--election-min", "-1"],
            "invalid setting raft.election_min: must be greater than 0 "
            "(got '-1' from flag --election-min)",
        ),
        (
            ["--election-max", "soon"],
            "invalid setting raft.election_max: must be a number "
            "(got 'soon' from flag --election-max)",
        ),
        (
            ["--election-max", "inf"],
            "invalid setting raft.election_max: must be a finite number "
            "(got 'inf' from flag --election-max)",
        ),
        (
            ["--election-min", "1.4"],
            "invalid setting raft.election_max: must be greater than raft.election_min, "
            "which is 1.4 from flag --election-min (got 1.4 from default)",
        ),
        (
            ["--election-min", "2", "--election-max", "1.5"],
            "invalid setting raft.election_max: must be greater than raft.election_min, "
            "which is 2.0 from flag --election-min (got '1.5' from flag --election-max)",
        ),
        (
            ["--max-content-bytes", "0"],
            "invalid setting limits.max_content_bytes: must be between 1 and 67108864 "
            "(got '0' from flag --max-content-bytes)",
        ),
        (
            ["--max-content-bytes", "67108865"],
            "invalid setting limits.max_content_bytes: must be between 1 and 67108864 "
            "(got '67108865' from flag --max-content-bytes)",
        ),
        (
            ["--request-timeout", "0"],
            "invalid setting limits.request_timeout: must be greater than 0 "
            "(got '0' from flag --request-timeout)",
        ),
        (
            ["--request-timeout", "nan"],
            "invalid setting limits.request_timeout: must be a finite number "
            "(got 'nan' from flag --request-timeout)",
        ),
        (
            ["--log-level", "TRACE"],
            "invalid setting log_level: must be one of DEBUG, INFO, WARNING, ERROR "
            "(got 'TRACE' from flag --log-level)",
        ),
        (
            ["--compaction-min-entries", "0"],
            "invalid setting raft.compaction_min_entries: must be at least 1 "
            "(got '0' from flag --compaction-min-entries)",
        ),
        (
            ["--compaction-min-seconds", "-1"],
            "invalid setting raft.compaction_min_seconds: must be at least 0 "
            "(got '-1' from flag --compaction-min-seconds)",
        ),
        (
            ["--data-dir", ""],
            "invalid setting data_dir: must not be empty (got '' from flag --data-dir)",
        ),
    ],
)
def test_bad_flag_values(argv: list[str], expected: str) -> None:
    assert error_of([*MINIMAL, *argv]) == expected


def test_max_content_bytes_bounds_are_inclusive() -> None:
    assert load([*MINIMAL, "--max-content-bytes", "1"]).limits.max_content_bytes == 1
    top = load([*MINIMAL, "--max-content-bytes", str(64 * 1024 * 1024)])
    assert top.limits.max_content_bytes == 67108864


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        (
            {"CONFLUX_HTTP_PORT": "abc"},
            "invalid setting http.port: must be an integer (got 'abc' from env CONFLUX_HTTP_PORT)",
        ),
        (
            {"CONFLUX_RAFT_FSYNC": "maybe"},
            "invalid setting raft.fsync: must be one of true, false, 1, 0, yes, no "
            "(got 'maybe' from env CONFLUX_RAFT_FSYNC)",
        ),
        (
            {"CONFLUX_REQUEST_TIMEOUT": "-2"},
            "invalid setting limits.request_timeout: must be greater than 0 "
            "(got '-2' from env CONFLUX_REQUEST_TIMEOUT)",
        ),
        (
            {"CONFLUX_RAFT_ADDRESS": "nowhere"},
            "invalid setting raft.address: must be HOST:PORT with an IPv4 address or hostname "
            "and a port 1..65535 (got 'nowhere' from env CONFLUX_RAFT_ADDRESS)",
        ),
    ],
)
def test_bad_env_values(env: dict[str, str], expected: str) -> None:
    assert error_of(MINIMAL, env) == expected


def test_bad_value_is_reported_even_when_overridden() -> None:
    # Every value given is checked, so a broken variable is found before a flag hides it.
    assert error_of([*MINIMAL, "--http-port", "8000"], {"CONFLUX_HTTP_PORT": "x"}) == (
        "invalid setting http.port: must be an integer (got 'x' from env CONFLUX_HTTP_PORT)"
    )


# ---------------------------------------------------------------------------------------------
# The settings file


@pytest.mark.parametrize(
    ("old", "new", "key", "what", "got"),
    [
        ("port = 7081", "port = true", "http.port", "must be an integer", "True"),
        ("port = 7081", 'port = "7081"', "http.port", "must be an integer", "'7081'"),
        ("port = 7081", "port = 7081.0", "http.port", "must be an integer", "7081.0"),
        ("grpc_port = 7091", "grpc_port = 0", "grpc_port", "must be between 1 and 65535", "0"),
        ("fsync = true", 'fsync = "true"', "raft.fsync", "must be true or false", "'true'"),
        ("fsync = true", "fsync = 1", "raft.fsync", "must be true or false", "1"),
        (
            "election_min = 0.4",
            "election_min = true",
            "raft.election_min",
            "must be a number",
            "True",
        ),
        ('node_id = "n1"', "node_id = 1", "node_id", "must be a string", "1"),
        (
            "max_content_bytes = 1048576",
            "max_content_bytes = 67108865",
            "limits.max_content_bytes",
            "must be between 1 and 67108864",
            "67108865",
        ),
        (
            'http = "http://127.0.0.1:7082"',
            'http = "127.0.0.1:7082"',
            "members[1].http",
            "must start with http:// or https://",
            "'127.0.0.1:7082'",
        ),
        (
            'raft = "127.0.0.1:7073"',
            "raft = 7073",
            "members[2].raft",
            "must be a string",
            "7073",
        ),
    ],
)
def test_bad_file_values(
    tmp_path: pathlib.Path, old: str, new: str, key: str, what: str, got: str
) -> None:
    assert FULL_TOML.count(old) == 1
    path = write(tmp_path, FULL_TOML.replace(old, new))
    assert error_of(["--config", path]) == (
        f"invalid setting {key}: {what} (got {got} from file {path})"
    )


@pytest.mark.parametrize(
    ("extra", "key", "got"),
    [
        ('colour = "blue"\n', "colour", "'blue'"),
        ("[http]\nprot = 1\n", "http.prot", "1"),
        ("[raft]\nfsynk = false\n", "raft.fsynk", "False"),
        ("[storage]\nengine = 'rocks'\n", "storage", "{'engine': 'rocks'}"),
        ("[[members]]\nid = 'n1'\nraft = 'h:1'\nhttp = 'http://h'\nweight = 2\n",
         "members[0].weight", "2"),
    ],
)  # fmt: skip
def test_unknown_file_key_is_an_error(
    tmp_path: pathlib.Path, extra: str, key: str, got: str
) -> None:
    path = write(tmp_path, extra)
    assert error_of(["--config", path, *MINIMAL]) == (
        f"invalid setting {key}: unknown key (got {got} from file {path})"
    )


def test_section_must_be_a_table(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "http = 8080\n")
    assert error_of(["--config", path]) == (
        f"invalid setting http: must be a table (got 8080 from file {path})"
    )


def test_member_table_missing_key(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, 'node_id = "n1"\n[[members]]\nid = "n1"\nraft = "h:1"\n')
    assert error_of(["--config", path]) == (
        "invalid setting members[0]: missing key http "
        f"(got {{'id': 'n1', 'raft': 'h:1'}} from file {path})"
    )


def test_members_must_be_an_array_of_tables(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, f'node_id = "n1"\nmembers = "{N1}"\n')
    assert error_of(["--config", path]) == (
        "invalid setting members: must be an array of tables ([[members]]) "
        f"(got {N1!r} from file {path})"
    )


def test_toml_syntax_error(tmp_path: pathlib.Path) -> None:
    text = 'node_id = "n1"\n[http\nport = 1\n'
    path = write(tmp_path, text)
    with pytest.raises(tomllib.TOMLDecodeError) as parse:
        tomllib.loads(text)
    assert error_of(["--config", path]) == f"invalid settings file {path}: {parse.value}"
    assert "line 2" in str(parse.value)


def test_missing_file(tmp_path: pathlib.Path) -> None:
    path = str(tmp_path / "nope.toml")
    assert error_of(["--config", path, *MINIMAL]) == f"settings file not found: {path}"


def test_file_that_is_a_directory(tmp_path: pathlib.Path) -> None:
    assert error_of(["--config", str(tmp_path)]).startswith(
        f"cannot read settings file {tmp_path}: "
    )


# ---------------------------------------------------------------------------------------------
# Command line and process entry points


def test_parser() -> None:
    parser = build_parser()
    assert parser.prog == "conflux-node"
    args = parser.parse_args(["--member", N1, "--member", N2, "--no-fsync"])
    assert args.member == [N1, N2]
    assert args.no_fsync is True


def test_unknown_flag_is_an_argparse_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        load([*MINIMAL, "--http-prot", "1"])
    assert info.value.code == 2
    assert "unrecognized arguments: --http-prot" in capsys.readouterr().err


def test_flag_abbreviations_are_not_accepted(capsys: pytest.CaptureFixture[str]) -> None:
    # Otherwise "--http-p" would be reported as "--http-port" in error messages.
    with pytest.raises(SystemExit):
        load([*MINIMAL, "--http-p", "1"])
    capsys.readouterr()


def test_load_from_process_reads_os_environ_and_argv(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("CONFLUX_")]:
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["conflux-node", "--node-id", "n3", "--http-port", "9999"])
    monkeypatch.setenv("CONFLUX_MEMBERS", THREE)
    monkeypatch.setenv("CONFLUX_HTTP_PORT", "9000")
    settings = load_from_process()
    assert settings.node_id == "n3"
    assert settings.http.port == 9999
    assert len(settings.members) == 3


# ---------------------------------------------------------------------------------------------
# Identity: auth.admin_password and auth.token_ttl


def test_auth_defaults() -> None:
    auth = load(MINIMAL).auth
    assert auth.admin_password is None
    assert auth.token_ttl == 3600


def test_auth_precedence(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, '[auth]\nadmin_password = "from-file"\ntoken_ttl = 600\n')
    from_file = load(["--config", path, *MINIMAL]).auth
    assert (from_file.admin_password, from_file.token_ttl) == ("from-file", 600)
    env = {"CONFLUX_ADMIN_PASSWORD": "from-env", "CONFLUX_TOKEN_TTL": "900"}
    from_env = load(["--config", path, *MINIMAL], env).auth
    assert (from_env.admin_password, from_env.token_ttl) == ("from-env", 900)
    argv = ["--config", path, *MINIMAL, "--admin-password", "from-flag", "--token-ttl", "120"]
    from_flags = load(argv, env).auth
    assert (from_flags.admin_password, from_flags.token_ttl) == ("from-flag", 120)


def test_admin_password_never_appears_in_repr() -> None:
    settings = load(MINIMAL, {"CONFLUX_ADMIN_PASSWORD": "s3cret-value"})
    assert settings.auth.admin_password == "s3cret-value"
    assert "s3cret-value" not in repr(settings)


@pytest.mark.parametrize(
    ("argv", "env", "expected"),
    [
        (
            ["--token-ttl", "59"],
            {},
            "invalid setting auth.token_ttl: must be between 60 and 604800 "
            "(got '59' from flag --token-ttl)",
        ),
        (
            [],
            {"CONFLUX_TOKEN_TTL": "soon"},
            "invalid setting auth.token_ttl: must be an integer "
            "(got 'soon' from env CONFLUX_TOKEN_TTL)",
        ),
        (
            [],
            {"CONFLUX_ADMIN_PASSWORD": ""},
            "invalid setting auth.admin_password: must not be empty "
            "(got [hidden] from env CONFLUX_ADMIN_PASSWORD)",
        ),
        (
            ["--admin-password", "x" * 1025],
            {},
            "invalid setting auth.admin_password: must be at most 1024 characters "
            "(got [hidden] from flag --admin-password)",
        ),
    ],
)
def test_bad_auth_values(argv: list[str], env: dict[str, str], expected: str) -> None:
    assert error_of([*MINIMAL, *argv], env) == expected


def test_bad_auth_file_values_hide_the_password(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[auth]\nadmin_password = 12345678\n")
    assert error_of(["--config", path, *MINIMAL]) == (
        f"invalid setting auth.admin_password: must be a string (got [hidden] from file {path})"
    )
    path = write(tmp_path, '[auth]\nadmin_pasword = "typo-secret"\n')
    message = error_of(["--config", path, *MINIMAL])
    assert "typo-secret" not in message
    assert message == (
        f"invalid setting auth.admin_pasword: unknown key (got [hidden] from file {path})"
    )


# ---------------------------------------------------------------------------------------------
# TLS: tls.cert_file, tls.key_file, tls.client_ca_file and tls.ca_file


def _pem_files(tmp_path: pathlib.Path) -> dict[str, str]:
    """A self-signed certificate, its key, another key and a file that is not PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    other = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.PrivateFormat.PKCS8
    files = {
        "cert": cert.public_bytes(serialization.Encoding.PEM),
        "key": key.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()),
        "other_key": other.private_bytes(
            serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()
        ),
        "junk": b"not a pem file\n",
    }
    paths = {}
    for label, data in files.items():
        path = tmp_path / f"{label}.pem"
        path.write_bytes(data)
        paths[label] = str(path)
    return paths


def test_tls_is_off_by_default() -> None:
    tls = load(MINIMAL).tls
    assert tls == TlsSettings()
    assert not tls.enabled


def test_tls_from_file_env_and_flags(tmp_path: pathlib.Path) -> None:
    pem = _pem_files(tmp_path)
    path = write(
        tmp_path,
        f'[tls]\ncert_file = "{pem["cert"]}"\nkey_file = "{pem["key"]}"\n'
        f'client_ca_file = "{pem["cert"]}"\n',
    )
    from_file = load(["--config", path, *MINIMAL]).tls
    assert from_file == TlsSettings(pem["cert"], pem["key"], pem["cert"], None)
    assert from_file.enabled
    env = {
        "CONFLUX_TLS_CERT_FILE": pem["cert"],
        "CONFLUX_TLS_KEY_FILE": pem["key"],
        "CONFLUX_TLS_CA_FILE": pem["cert"],
    }
    assert load(MINIMAL, env).tls == TlsSettings(pem["cert"], pem["key"], None, pem["cert"])
    argv = [
        *MINIMAL,
        "--tls-cert-file", pem["cert"],
        "--tls-key-file", pem["key"],
        "--tls-client-ca-file", pem["cert"],
        "--tls-ca-file", pem["cert"],
    ]  # fmt: skip
    tls = load(argv).tls
    assert tls == TlsSettings(pem["cert"], pem["key"], pem["cert"], pem["cert"])


def test_ca_file_alone_is_allowed(tmp_path: pathlib.Path) -> None:
    pem = _pem_files(tmp_path)
    tls = load([*MINIMAL, "--tls-ca-file", pem["cert"]]).tls
    assert tls == TlsSettings(ca_file=pem["cert"])
    assert not tls.enabled


def test_members_may_use_https() -> None:
    members = load(["--node-id", "n1", "--member", "n1@127.0.0.1:7071@https://node1:7081/"])
    assert members.members[0].http == "https://node1:7081"


def test_tls_cert_and_key_come_together(tmp_path: pathlib.Path) -> None:
    pem = _pem_files(tmp_path)
    assert error_of([*MINIMAL, "--tls-cert-file", pem["cert"]]) == (
        f"invalid setting tls.cert_file: needs tls.key_file too "
        f"(got {pem['cert']!r} from flag --tls-cert-file)"
    )
    assert error_of(MINIMAL, {"CONFLUX_TLS_KEY_FILE": pem["key"]}) == (
        f"invalid setting tls.key_file: needs tls.cert_file too "
        f"(got {pem['key']!r} from env CONFLUX_TLS_KEY_FILE)"
    )
    assert error_of([*MINIMAL, "--tls-client-ca-file", pem["cert"]]) == (
        f"invalid setting tls.client_ca_file: needs tls.cert_file and tls.key_file "
        f"(got {pem['cert']!r} from flag --tls-client-ca-file)"
    )


@pytest.mark.parametrize(
    ("flag", "key", "env"),
    [
        ("--tls-cert-file", "tls.cert_file", "CONFLUX_TLS_CERT_FILE"),
        ("--tls-key-file", "tls.key_file", "CONFLUX_TLS_KEY_FILE"),
        ("--tls-client-ca-file", "tls.client_ca_file", "CONFLUX_TLS_CLIENT_CA_FILE"),
        ("--tls-ca-file", "tls.ca_file", "CONFLUX_TLS_CA_FILE"),
    ],
)
def test_tls_files_must_exist(tmp_path: pathlib.Path, flag: str, key: str, env: str) -> None:
    missing = str(tmp_path / "missing.pem")
    assert error_of([*MINIMAL, flag, missing]) == (
        f"invalid setting {key}: no such file (got {missing!r} from flag {flag})"
    )
    assert error_of(MINIMAL, {env: ""}) == (
        f"invalid setting {key}: must not be empty (got '' from env {env})"
    )
    assert error_of([*MINIMAL, flag, str(tmp_path)]) == (
        f"invalid setting {key}: no such file (got {str(tmp_path)!r} from flag {flag})"
    )


def test_tls_file_values_from_the_file(tmp_path: pathlib.Path) -> None:
    path = write(tmp_path, "[tls]\ncert_file = 1\n")
    assert error_of(["--config", path, *MINIMAL]) == (
        f"invalid setting tls.cert_file: must be a string (got 1 from file {path})"
    )
    path = write(tmp_path, '[tls]\ncert = "x.pem"\n')
    assert error_of(["--config", path, *MINIMAL]) == (
        f"invalid setting tls.cert: unknown key (got 'x.pem' from file {path})"
    )


@pytest.mark.parametrize(
    ("cert", "key"), [("junk", "key"), ("cert", "junk"), ("cert", "other_key")]
)
def test_tls_cert_and_key_must_load(tmp_path: pathlib.Path, cert: str, key: str) -> None:
    pem = _pem_files(tmp_path)
    argv = [*MINIMAL, "--tls-cert-file", pem[cert]]
    env = {"CONFLUX_TLS_KEY_FILE": pem[key]}
    assert error_of(argv, env) == (
        f"invalid setting tls.cert_file: cannot load it as a PEM certificate with the PEM "
        f"private key in tls.key_file, which is {pem[key]!r} from env CONFLUX_TLS_KEY_FILE "
        f"(got {pem[cert]!r} from flag --tls-cert-file)"
    )


@pytest.mark.parametrize(
    ("flag", "key"),
    [("--tls-client-ca-file", "tls.client_ca_file"), ("--tls-ca-file", "tls.ca_file")],
)
def test_tls_ca_files_must_load(tmp_path: pathlib.Path, flag: str, key: str) -> None:
    pem = _pem_files(tmp_path)
    argv = [*MINIMAL, "--tls-cert-file", pem["cert"], "--tls-key-file", pem["key"]]
    assert error_of([*argv, flag, pem["junk"]]) == (
        f"invalid setting {key}: cannot load it as PEM CA certificates "
        f"(got {pem['junk']!r} from flag {flag})"
    )


def test_raft_secret_from_env_is_kept_out_of_repr() -> None:
    secret = "a-shared-raft-secret-1234"
    settings = load(MINIMAL, {"CONFLUX_RAFT_SECRET": secret})
    assert settings.raft.secret == secret
    assert secret not in repr(settings)
    assert load(MINIMAL).raft.secret is None


def test_raft_secret_too_short_is_refused_without_quoting_it() -> None:
    with pytest.raises(SettingsError) as info:
        load([*MINIMAL, "--raft-secret", "tiny-secret"])
    assert str(info.value) == (
        "invalid setting raft.secret: must be 16 to 1024 characters long "
        "(got [hidden] from flag --raft-secret)"
    )


def test_metrics_are_open_unless_closed_by_file_or_env(tmp_path: pathlib.Path) -> None:
    assert load(MINIMAL).auth.metrics_open is True
    assert load(MINIMAL, {"CONFLUX_METRICS_OPEN": "false"}).auth.metrics_open is False
    path = write(tmp_path, "[auth]\nmetrics_open = false\n")
    assert load([*MINIMAL, "--config", str(path)]).auth.metrics_open is False
    assert "auth.metrics_open" in error_of(MINIMAL, {"CONFLUX_METRICS_OPEN": "maybe"})


def test_plain_text_beyond_loopback_is_warned_about() -> None:
    assert exposure_warnings(load(MINIMAL)) == []
    wide = load([*MINIMAL, "--http-host", "0.0.0.0"])
    assert [w.split(":")[0] for w in exposure_warnings(wide)] == [
        "serving plain HTTP and gRPC on 0.0.0.0"
    ]
    remote = load(["--node-id", "n1", "--member", "n1@10.0.0.1:7071@http://10.0.0.1:7081"])
    assert exposure_warnings(remote) == [
        "Raft traffic between members is not encrypted; set raft.secret"
    ]
    secret = "s" * 32
    quiet = load(
        ["--node-id", "n1", "--member", "n1@10.0.0.1:7071@http://10.0.0.1:7081"],
        {"CONFLUX_RAFT_SECRET": secret},
    )
    assert exposure_warnings(quiet) == []


def test_token_key_is_a_long_secret_never_printed() -> None:
    key = "0123456789abcdef0123456789abcdef-key"
    settings = load(MINIMAL, {"CONFLUX_TOKEN_KEY": key})
    assert settings.auth.token_key == key and key not in repr(settings)
    assert load(MINIMAL).auth.token_key is None
    message = error_of(MINIMAL, {"CONFLUX_TOKEN_KEY": "short-key"})
    assert message.startswith("invalid setting auth.token_key: must be 32 to 1024 characters")
    assert "short-key" not in message


def test_previous_token_key_is_a_secret_like_the_key() -> None:
    key = "p" * 40
    settings = load(MINIMAL, {"CONFLUX_PREVIOUS_TOKEN_KEY": key})
    assert settings.auth.previous_token_key == key and key not in repr(settings)
    assert "auth.previous_token_key" in error_of(MINIMAL, {"CONFLUX_PREVIOUS_TOKEN_KEY": "x"})
