"""Node settings: defaults, a TOML file, CONFLUX_* variables and flags, checked once at start.

Why a package of its own: a bad setting must stop the node before it opens a socket or touches
its data directory, with one line that names the setting and where the bad value came from::

    invalid setting http.port: must be between 1 and 65535 (got '0' from env CONFLUX_HTTP_PORT)

Gathering every source here also makes the precedence explicit and testable::

    defaults < TOML file < CONFLUX_* environment variables < command-line flags

The package is split by concern; the rest of the node imports only from here:

- `shapes`: the frozen dataclasses (`Settings` and its parts) and `SettingsError`;
- `checks`: turning raw values into typed ones and checking each value alone;
- `sources`: every setting's TOML key, variable and flag; the file, env and flag layers; the
  command-line parser;
- `loader`: merging the layers and the rules that tie settings together (`load_settings`).

This module's `load_from_process()` is the only place in the node that reads the process
environment: `load_settings()` takes argv and environ as arguments, so tests pass plain lists
and dicts.
"""

from __future__ import annotations

import os
import sys

from conflux_node.settings.loader import load_settings
from conflux_node.settings.shapes import (
    AuthSettings,
    HttpSettings,
    LimitSettings,
    Member,
    RaftSettings,
    Settings,
    SettingsError,
    TlsSettings,
)
from conflux_node.settings.sources import build_parser

__all__ = [
    "AuthSettings",
    "HttpSettings",
    "LimitSettings",
    "Member",
    "RaftSettings",
    "Settings",
    "SettingsError",
    "TlsSettings",
    "build_parser",
    "load_from_process",
    "load_settings",
]


def load_from_process() -> Settings:
    """Load settings from this process: `os.environ` and `sys.argv[1:]`."""
    return load_settings(sys.argv[1:], os.environ)
