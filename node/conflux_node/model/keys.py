"""The key layout of the replicated state, chosen for prefix scans.

    c/<tenant>/<app>/<env>/<name>            config metadata
    v/<tenant>/<app>/<env>/<name>/<n:010d>   one version (content included)
    r/<tenant>/<app>/<env>/<name>/<n:010d>   one release revision

    t/<tenant>                               tenant
    u/<username>                             user (password hash included)
    b/<tenant>/<username>                    role binding: one role per user per tenant
    k/<key_id>                               API key (secret hash included)
    a/<seq:016d>                             one audit record

    m/config_seq                             counter behind ConfigMeta.incarnation
    m/audit_seq                              last audit sequence number used
    m/identity_rev                           bumped by every identity change, so a node
                                             can cache policies and notice staleness
    m/jwt_key                                the token-signing key, set once by Bootstrap

Names never contain "/", so `v/<path>/` lists exactly one config's versions, and the
zero-padded numbers keep them in order. `c/<tenant>/` lists every config of a tenant
and `b/<tenant>/` every binding in it.
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
IDENTITY_REV = b"m/identity_rev"
AUDIT_SEQ = b"m/audit_seq"
AUDIT_RETENTION = b"m/audit_retention"
JWT_KEY = b"m/jwt_key"

TENANTS_PREFIX = b"t/"
USERS_PREFIX = b"u/"
BINDINGS_PREFIX = b"b/"
API_KEYS_PREFIX = b"k/"
AUDIT_PREFIX = b"a/"


def tenant_configs_prefix(tenant: str) -> bytes:
    return f"c/{tenant}/".encode()


def tenant_key(tenant: str) -> bytes:
    return TENANTS_PREFIX + tenant.encode()


def user_key(username: str) -> bytes:
    return USERS_PREFIX + username.encode()


def bindings_prefix(tenant: str) -> bytes:
    return BINDINGS_PREFIX + f"{tenant}/".encode()


def binding_key(tenant: str, username: str) -> bytes:
    return bindings_prefix(tenant) + username.encode()


def api_key_key(key_id: str) -> bytes:
    return API_KEYS_PREFIX + key_id.encode()


def audit_key(seq: int) -> bytes:
    return AUDIT_PREFIX + f"{seq:016d}".encode()
