"""`conflux` against a node serving HTTPS, with and without client certificates required.

The certificates come from `tests/unit/test_tls.py` (its `pki` fixture and helpers); the node
is the in-process API app, served on its own loop thread with the node's TLS context.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from click.testing import CliRunner

from conflux.cli.settings import resolve
from conflux_node.tls import server_context
from tests.unit.api.conftest import TOKEN, make_app
from tests.unit.cli.conftest import Cli
from tests.unit.test_tls import Pki, pki, server_tls

__all__ = ["pki"]  # the module-scoped certificates fixture, shared with tests/unit/test_tls.py


def serve_https(pki: Pki, require_client: bool) -> Iterator[tuple[str, str]]:
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        app = make_app()
        holder["token"] = app[TOKEN]
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        context = server_context(server_tls(pki, require_client=require_client))
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
        await site.start()
        holder["runner"] = runner
        holder["url"] = f"https://127.0.0.1:{runner.addresses[0][1]}"

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "in-process HTTPS node did not start"
    try:
        yield holder["url"], holder["token"]
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


@pytest.fixture
def https(pki: Pki, tmp_path: Path) -> Iterator[Cli]:
    for url, token in serve_https(pki, require_client=False):
        yield Cli(CliRunner(), url, tmp_path, token)


@pytest.fixture
def mutual(pki: Pki, tmp_path: Path) -> Iterator[Cli]:
    for url, token in serve_https(pki, require_client=True):
        yield Cli(CliRunner(), url, tmp_path, token)


def release_db(run: Cli, *tls: str) -> None:
    run.ok(*tls, "config", "create", "db", "--format", "json")
    run.ok(*tls, "config", "push", "db", "-", input='{"v": 1}')
    run.ok(*tls, "release", "set", "db", "--default", "1")


def test_cluster_status_and_fetch_over_https_with_ca_file(https: Cli, pki: Pki) -> None:
    ca = ("--ca-file", str(pki.ca))
    status = json.loads(https.ok(*ca, "cluster", "status", "-o", "json").stdout)
    assert status["members"]
    release_db(https, *ca)
    served = json.loads(https.ok("fetch", "db", "-o", "json", *ca).stdout)  # after the command
    assert served["version"] == 1
    assert https.ok("fetch", "db", "--raw", env={"CONFLUX_CA_FILE": str(pki.ca)}).stdout == (
        '{"v": 1}'
    )


def test_without_the_ca_the_connection_fails(https: Cli, pki: Pki) -> None:
    result = https("cluster", "status")
    assert result.exit_code == 5
    assert result.stderr.startswith("error: unavailable: ")
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_client_certificate_flags_against_a_node_requiring_them(mutual: Cli, pki: Pki) -> None:
    ca = ("--ca-file", str(pki.ca))
    mine = (*ca, "--cert-file", str(pki.client_cert), "--key-file", str(pki.client_key))
    assert mutual(*ca, "cluster", "status").exit_code == 5  # no client certificate
    assert json.loads(mutual.ok(*mine, "cluster", "status", "-o", "json").stdout)["members"]
    release_db(mutual, *mine)
    assert mutual.ok(*mine, "fetch", "db", "--raw").stdout == '{"v": 1}'


def test_tls_files_from_the_environment_and_the_config_file(
    mutual: Cli, pki: Pki, tmp_path: Path
) -> None:
    env = {
        "CONFLUX_CA_FILE": str(pki.ca),
        "CONFLUX_CERT_FILE": str(pki.client_cert),
        "CONFLUX_KEY_FILE": str(pki.client_key),
    }
    assert mutual.ok("cluster", "status", env=env).stdout
    config = tmp_path / "config.toml"
    config.write_text(
        f'ca_file = "{pki.ca}"\ncert_file = "{pki.client_cert}"\nkey_file = "{pki.client_key}"\n'
    )
    assert mutual.ok("--config", str(config), "cluster", "status").stdout


def test_tls_precedence_flag_then_env_then_file(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('ca_file = "file-ca.pem"\ncert_file = "file.pem"\nkey_file = "~/k.pem"\n')
    environ = {"HOME": str(tmp_path), "CONFLUX_CERT_FILE": "env.pem"}
    settings = resolve({"config": str(config), "ca_file": "flag-ca.pem"}, environ)
    assert (settings.ca_file, settings.cert_file) == ("flag-ca.pem", "env.pem")
    assert settings.key_file == str(Path("~/k.pem").expanduser())
    assert settings.sources["ca_file"] == "flag"
    assert settings.sources["cert_file"] == "env"
    assert settings.sources["key_file"] == str(config)


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        (("--ca-file", "{missing}"), "nope.pem"),
        (("--cert-file", "{missing}"), "nope.pem"),
        (("--cert-file", "{cert}", "--key-file", "{missing}"), "nope.pem"),
        (("--key-file", "{key}"), "without a client certificate"),
        (("--cert-file", "{cert}", "--key-file", "{wrong_key}"), "client.pem"),
    ],
)
def test_a_bad_tls_file_is_a_usage_error(
    https: Cli, pki: Pki, tmp_path: Path, flags: tuple[str, ...], named: str
) -> None:
    paths = {
        "missing": str(tmp_path / "nope.pem"),
        "cert": str(pki.client_cert),
        "key": str(pki.client_key),
        "wrong_key": str(pki.server_key),
    }
    args = [flag.format(**paths) for flag in flags]
    for command in (["cluster", "status"], ["fetch", "db"]):
        result = https(*args, *command)
        assert result.exit_code == 2, (result.exit_code, result.stderr)
        assert named in result.stderr
        assert "Traceback" not in result.stderr
