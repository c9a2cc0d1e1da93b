"""Where the CLI connects and as whom: flags, then environment, then the config file.

Precedence, per key: a command-line flag wins over a `CONFLUX_*` environment variable,
which wins over `~/.config/conflux/config.toml` (or the file named by `--config` /
`CONFLUX_CONFIG_FILE`), which wins over the default endpoint `http://127.0.0.1:7081`.
The token has one more, last source: the file `conflux auth login` writes,
`~/.config/conflux/token` (mode 0600, in a 0700 directory). The TLS files (`ca_file`,
`cert_file`, `key_file`) follow the same precedence; a leading `~` is expanded.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENDPOINT = "http://127.0.0.1:7081"
KEYS = ("endpoints", "tenant", "app", "env", "token", "ca_file", "cert_file", "key_file")
TLS_KEYS = ("ca_file", "cert_file", "key_file")
SCOPE_KEYS = ("tenant", "app", "env")


class SettingsError(Exception):
    """A settings problem the user must fix (bad file, missing tenant...): a usage error."""


@dataclass(frozen=True, slots=True)
class Settings:
    endpoints: tuple[str, ...] = (DEFAULT_ENDPOINT,)
    tenant: str | None = None
    app: str | None = None
    env: str | None = None
    token: str | None = None
    ca_file: str | None = None  # TLS: the CA that signed the nodes' certificates
    cert_file: str | None = None  # TLS: client certificate, for nodes that require one
    key_file: str | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> "flag" | "env" | path

    def scope(self) -> tuple[str, str, str]:
        """(tenant, app, env); a SettingsError names the first one that is missing."""
        values = (self.tenant, self.app, self.env)
        for key, value in zip(SCOPE_KEYS, values, strict=True):
            if not value:
                raise SettingsError(
                    f"no {key}: pass --{key}, set CONFLUX_{key.upper()} "
                    f"or put {key} in the config file"
                )
        tenant, app, env = values
        assert tenant and app and env
        return tenant, app, env


def default_config_path(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_CONFIG_HOME") or str(Path(environ.get("HOME", "~")) / ".config")
    return Path(base).expanduser() / "conflux" / "config.toml"


def token_file_path(environ: Mapping[str, str]) -> Path:
    """Where `conflux auth login` keeps its token: next to the default config file."""
    return default_config_path(environ).parent / "token"


def read_token_file(path: Path) -> str | None:
    """The stored token, or None when there is none."""
    try:
        token = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"cannot read token file {path}: {error}") from None
    return token or None


def write_token_file(path: Path, token: str) -> None:
    """Store `token` in `path`, readable by its owner only (file 0600, directory 0700).

    The token is written to a new private file that then replaces `path`, so it is never
    readable by others, not even for a moment, and an old file is replaced whole.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    descriptor = os.open(temporary, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(token + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    os.chmod(path, 0o600)


def remove_token_file(path: Path) -> bool:
    """Delete the stored token; False when there was none."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def split_endpoints(raw: str | Sequence[str]) -> tuple[str, ...]:
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    endpoints = tuple(item.strip().rstrip("/") for item in items if item and item.strip())
    for endpoint in endpoints:
        if not endpoint.startswith(("http://", "https://")):
            raise SettingsError(f"endpoint {endpoint!r} must start with http:// or https://")
    return endpoints


def read_file(path: Path, explicit: bool) -> dict[str, Any]:
    """The config file's known keys; a missing default file is simply empty."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if explicit:
            raise SettingsError(f"config file {path} does not exist") from None
        return {}
    except (OSError, UnicodeDecodeError) as error:
        raise SettingsError(f"cannot read config file {path}: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"config file {path} is not valid TOML: {error}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise SettingsError(
            f"config file {path}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})"
        )
    for key in KEYS:
        value = data.get(key)
        if value is None:
            continue
        ok = isinstance(value, str) or (
            key == "endpoints"
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        )
        if not ok:
            kind = "a string or a list of strings" if key == "endpoints" else "a string"
            raise SettingsError(f"config file {path}: {key} must be {kind}")
    return data


def resolve(
    flags: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge flags (None / empty = not given), the environment and the config file.

    `flags` may hold `endpoints` (a sequence), `tenant`, `app`, `env`, `token`, `ca_file`,
    `cert_file`, `key_file` and `config` (the config file path). The token falls back to
    the stored token file.
    """
    environ = os.environ if environ is None else environ
    explicit_path = flags.get("config") or environ.get("CONFLUX_CONFIG_FILE")
    path = Path(explicit_path).expanduser() if explicit_path else default_config_path(environ)
    file_values = read_file(path, explicit=bool(explicit_path))

    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key in KEYS:
        env_name = f"CONFLUX_{key.upper()}"
        flag = flags.get(key)
        if flag:
            values[key], sources[key] = flag, "flag"
        elif environ.get(env_name):
            values[key], sources[key] = environ[env_name], "env"
        elif file_values.get(key):
            values[key], sources[key] = file_values[key], str(path)
    if "token" not in values:
        token_file = token_file_path(environ)
        stored = read_token_file(token_file)
        if stored:
            values["token"], sources["token"] = stored, str(token_file)
    endpoints = split_endpoints(values["endpoints"]) if "endpoints" in values else ()
    if not endpoints:
        endpoints, sources["endpoints"] = (DEFAULT_ENDPOINT,), "default"
    return Settings(
        endpoints=endpoints,
        tenant=values.get("tenant"),
        app=values.get("app"),
        env=values.get("env"),
        token=values.get("token"),
        **{key: str(Path(values[key]).expanduser()) for key in TLS_KEYS if key in values},
        sources=sources,
    )
