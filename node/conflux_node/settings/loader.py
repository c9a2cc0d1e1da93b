"""Merging the sources into one checked `Settings`, with the rules that tie settings together.

Why a module of its own: the precedence is written in one place, in `load_settings()`::

    defaults < TOML file < CONFLUX_* environment variables < command-line flags

A layer replaces single values of the layers below it; ``members`` is replaced as a whole. The
file path comes from ``--config PATH`` or ``CONFLUX_CONFIG``. Each value is checked by the layer
that gives it (see `sources`); what can only be checked on the merged result is checked here:
required settings are present, the member count is a valid cluster size, member ids and Raft
addresses are unique, the node is one of the members, election_min is below election_max, and
tls.cert_file and tls.key_file come together and load, as do the CA files.

`load_settings()` takes argv and environ as arguments, so tests pass plain lists and dicts; only
the package's `load_from_process()` reads the real ones.
"""

from __future__ import annotations

import pathlib
import ssl
from collections.abc import Mapping, Sequence
from typing import TypeVar

from conflux_node.settings.checks import invalid
from conflux_node.settings.shapes import (
    CLUSTER_SIZES,
    AuthSettings,
    HttpSettings,
    LimitSettings,
    Member,
    RaftSettings,
    Settings,
    SettingsError,
    TlsSettings,
)
from conflux_node.settings.sources import (
    Given,
    build_parser,
    defaults,
    env_layer,
    file_layer,
    flag_layer,
)

_T = TypeVar("_T")

_CA_FILES = ("tls.client_ca_file", "tls.ca_file")


def _typed(given: Given, kind: type[_T]) -> _T:
    value = given.value
    if not isinstance(value, kind):  # pragma: no cover - the checks above guarantee the type
        raise TypeError(f"internal: {given!r} is not a {kind.__name__}")
    return value


def _check_tls(merged: Mapping[str, Given]) -> TlsSettings:
    """Cert and key come together and load as a pair; each CA file loads as PEM certificates."""
    cert, key = merged.get("tls.cert_file"), merged.get("tls.key_file")
    if cert is not None and key is None:
        raise invalid("tls.cert_file", "needs tls.key_file too", cert.raw, cert.source)
    if key is not None and cert is None:
        raise invalid("tls.key_file", "needs tls.cert_file too", key.raw, key.source)
    client_ca = merged.get("tls.client_ca_file")
    if client_ca is not None and cert is None:
        raise invalid(
            "tls.client_ca_file",
            "needs tls.cert_file and tls.key_file",
            client_ca.raw,
            client_ca.source,
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if cert is not None and key is not None:
        try:
            context.load_cert_chain(_typed(cert, str), _typed(key, str))
        except (ssl.SSLError, OSError):
            raise invalid(
                "tls.cert_file",
                f"cannot load it as a PEM certificate with the PEM private key in tls.key_file, "
                f"which is {key.value!r} from {key.source}",
                cert.raw,
                cert.source,
            ) from None
    for name in _CA_FILES:
        given = merged.get(name)
        if given is None:
            continue
        try:
            context.load_verify_locations(cafile=_typed(given, str))
        except (ssl.SSLError, OSError, ValueError):
            raise invalid(
                name, "cannot load it as PEM CA certificates", given.raw, given.source
            ) from None

    def path(name: str) -> str | None:
        given = merged.get(name)
        return _typed(given, str) if given is not None else None

    return TlsSettings(
        cert_file=path("tls.cert_file"),
        key_file=path("tls.key_file"),
        client_ca_file=path("tls.client_ca_file"),
        ca_file=path("tls.ca_file"),
    )


def load_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Merge defaults < file < environ < argv into a validated `Settings`.

    Raises `SettingsError` for a missing or invalid setting or an unreadable file. A malformed
    command line (unknown flag, flag without its value) is argparse's business: it prints usage
    and raises SystemExit(2), as does --help with SystemExit(0).
    """
    args = build_parser().parse_args(list(argv))
    config_path: str | None = (
        args.config if args.config is not None else environ.get("CONFLUX_CONFIG")
    )
    merged = defaults()
    if config_path is not None:
        merged.update(file_layer(config_path))
    merged.update(env_layer(environ))
    merged.update(flag_layer(args))

    if "node_id" not in merged:
        raise SettingsError(
            "missing setting node_id: set node_id in the file, CONFLUX_NODE_ID or --node-id"
        )
    if "members" not in merged:
        raise SettingsError(
            "missing setting members: set [[members]] in the file, CONFLUX_MEMBERS or --member"
        )
    node = merged["node_id"]
    node_id = _typed(node, str)
    given_members = merged["members"]
    members = _typed(given_members, tuple)

    if len(members) not in CLUSTER_SIZES:
        raise invalid(
            "members",
            f"a cluster has 1, 3, 5 or 7 members, got {len(members)}",
            given_members.raw,
            given_members.source,
        )
    seen_ids: set[str] = set()
    seen_rafts: set[tuple[str, int]] = set()
    for index, member in enumerate(members):
        assert isinstance(member, Member)
        if member.id in seen_ids:
            raise invalid(
                f"members[{index}].id", "duplicate member id", member.id, given_members.source
            )
        seen_ids.add(member.id)
        host, _, port = member.raft.rpartition(":")
        if (host.lower(), int(port)) in seen_rafts:
            raise invalid(
                f"members[{index}].raft",
                "duplicate raft address",
                member.raft,
                given_members.source,
            )
        seen_rafts.add((host.lower(), int(port)))
    member_ids = [member.id for member in members]
    if node_id not in member_ids:
        raise invalid(
            "node_id",
            "must be one of the member ids " + ", ".join(member_ids),
            node.raw,
            node.source,
        )

    election_min, election_max = merged["raft.election_min"], merged["raft.election_max"]
    if not _typed(election_min, float) < _typed(election_max, float):
        raise invalid(
            "raft.election_max",
            f"must be greater than raft.election_min, which is {election_min.value!r} "
            f"from {election_min.source}",
            election_max.raw,
            election_max.source,
        )

    tls = _check_tls(merged)
    self_member = next(member for member in members if member.id == node_id)
    data_dir = merged.get("data_dir")
    grpc_port = merged.get("grpc_port")
    admin_password = merged.get("auth.admin_password")
    token_key = merged.get("auth.token_key")
    previous = merged.get("auth.previous_token_key")
    raft_address = merged.get("raft.address")
    raft_secret = merged.get("raft.secret")
    return Settings(
        node_id=node_id,
        data_dir=pathlib.Path(
            _typed(data_dir, str) if data_dir is not None else f".conflux/{node_id}"
        ),
        http=HttpSettings(
            host=_typed(merged["http.host"], str),
            port=_typed(merged["http.port"], int),
        ),
        raft=RaftSettings(
            address=_typed(raft_address, str) if raft_address is not None else self_member.raft,
            fsync=_typed(merged["raft.fsync"], bool),
            election_min=_typed(election_min, float),
            election_max=_typed(election_max, float),
            compaction_min_entries=_typed(merged["raft.compaction_min_entries"], int),
            compaction_min_seconds=_typed(merged["raft.compaction_min_seconds"], int),
            secret=_typed(raft_secret, str) if raft_secret is not None else None,
        ),
        members=tuple(members),
        limits=LimitSettings(
            max_content_bytes=_typed(merged["limits.max_content_bytes"], int),
            request_timeout=_typed(merged["limits.request_timeout"], float),
        ),
        log_level=_typed(merged["log_level"], str),
        grpc_port=_typed(grpc_port, int) if grpc_port is not None else None,
        auth=AuthSettings(
            admin_password=_typed(admin_password, str) if admin_password is not None else None,
            token_ttl=_typed(merged["auth.token_ttl"], int),
            metrics_open=_typed(merged["auth.metrics_open"], bool),
            token_key=_typed(token_key, str) if token_key is not None else None,
            previous_token_key=_typed(previous, str) if previous is not None else None,
        ),
        tls=tls,
    )
