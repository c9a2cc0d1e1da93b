"""The key layout of the replicated state, chosen for prefix scans.

    c/<tenant>/<app>/<env>/<name>            config metadata
    v/<tenant>/<app>/<env>/<name>/<n:010d>   one version (content included)
    r/<tenant>/<app>/<env>/<name>/<n:010d>   one release revision

    m/config_seq                             counter behind ConfigMeta.incarnation

Names never contain "/", so `v/<path>/` lists exactly one config's versions, and the
zero-padded numbers keep them in order.
"""

from __future__ import annotations

from conflux_node.model.names import Coords


def configs_prefix(tenant: str, app: str, env: str) -> bytes:
    return f"c/{tenant}/{app}/{env}/".encode()


def config_key(coords: Coords) -> bytes:
    return f"c/{coords.path}".encode()


def versions_prefix(coords: Coords) -> bytes:
    return f"v/{coords.path}/".encode()


def version_key(coords: Coords, version: int) -> bytes:
    return versions_prefix(coords) + f"{version:010d}".encode()


def releases_prefix(coords: Coords) -> bytes:
    return f"r/{coords.path}/".encode()


def release_key(coords: Coords, revision: int) -> bytes:
    return releases_prefix(coords) + f"{revision:010d}".encode()


def number_of(key: bytes) -> int:
    """The trailing number of a version or release key."""
    return int(key.rsplit(b"/", 1)[1])


CONFIG_SEQ = b"m/config_seq"
