"""The state one `conflux` invocation carries: options, settings, client and output."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypedDict, TypeVar, cast

import click

from conflux.cli.output import Format, Output
from conflux.cli.settings import Settings, SettingsError, resolve
from conflux.rest import RestClient, config_path
from conflux.tls import TlsError

DEFAULT_TIMEOUT = 10.0
_C = TypeVar("_C")


@dataclass
class CliContext:
    """Options given on the group and on leaf commands (a leaf's value wins)."""

    options: dict[str, Any] = field(default_factory=dict)
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            try:
                self._settings = resolve(self.options)
            except SettingsError as error:
                raise click.UsageError(str(error)) from None
        return self._settings

    @property
    def output(self) -> Output:
        fmt = cast(Format, self.options.get("output") or "table")
        return Output(fmt)

    def client(self, timeout: float = DEFAULT_TIMEOUT) -> RestClient:
        """A client for the configured endpoints that sends the resolved token, if any."""
        settings = self.settings
        return tls_usage_errors(
            lambda: RestClient(
                list(settings.endpoints),
                timeout=timeout,
                token=settings.token,
                **tls_files(settings),
            )
        )

    def scope(self) -> tuple[str, str, str]:
        try:
            return self.settings.scope()
        except SettingsError as error:
            raise click.UsageError(str(error)) from None

    def config_path(self, name: str) -> str:
        return config_path(*self.scope(), name)


class TlsOptions(TypedDict):
    ca_file: str | None
    cert_file: str | None
    key_file: str | None


def tls_files(settings: Settings) -> TlsOptions:
    return {
        "ca_file": settings.ca_file,
        "cert_file": settings.cert_file,
        "key_file": settings.key_file,
    }


def tls_usage_errors(build: Callable[[], _C]) -> _C:
    """Run `build`; a TLS file that cannot be loaded is a usage error (exit 2)."""
    try:
        return build()
    except TlsError as error:
        raise click.UsageError(str(error)) from None


def get_ctx() -> CliContext:
    ctx = click.get_current_context()
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if param.name is None:
        return value
    if value in (None, (), ""):
        return value
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    root.obj.options[param.name] = value
    root.obj._settings = None
    return value


def global_options(func: Any) -> Any:
    """Options accepted on the `conflux` group and again on every command.

    `conflux -o json config list` and `conflux config list -o json` mean the same; when
    both are given, the one after the command wins.
    """
    common: dict[str, Any] = {"expose_value": False, "callback": _store, "is_eager": True}
    options = [
        click.option(
            "--endpoint",
            "endpoints",
            multiple=True,
            metavar="URL",
            help="Node HTTP endpoint; repeat for failover. "
            "[env CONFLUX_ENDPOINTS (comma-separated); default http://127.0.0.1:7081]",
            **common,
        ),
        click.option("--tenant", metavar="NAME", help="Tenant. [env CONFLUX_TENANT]", **common),
        click.option("--app", metavar="NAME", help="Application. [env CONFLUX_APP]", **common),
        click.option("--env", metavar="NAME", help="Environment. [env CONFLUX_ENV]", **common),
        click.option("--token", metavar="TOKEN", help="API token. [env CONFLUX_TOKEN]", **common),
        click.option(
            "--ca-file",
            metavar="FILE",
            help="CA certificate (PEM) to verify https nodes with. [env CONFLUX_CA_FILE]",
            **common,
        ),
        click.option(
            "--cert-file",
            metavar="FILE",
            help="Client certificate (PEM), for nodes that require one. [env CONFLUX_CERT_FILE]",
            **common,
        ),
        click.option(
            "--key-file",
            metavar="FILE",
            help="Private key of the client certificate (PEM). [env CONFLUX_KEY_FILE]",
            **common,
        ),
        click.option(
            "--config",
            "config",
            metavar="FILE",
            help="Settings file. [env CONFLUX_CONFIG_FILE; default ~/.config/conflux/config.toml]",
            **common,
        ),
        click.option(
            "-o",
            "--output",
            type=click.Choice(["table", "json"]),
            help="Output format: table (default) or json.",
            **common,
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func
