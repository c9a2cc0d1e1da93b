"""TLS for a node: the server context for HTTPS, gRPC credentials, and the client context for
node-to-node calls, all built from `TlsSettings`.

Why a module of its own: the HTTP server, the gRPC server and the peer-status session each need
TLS in a different form (an `ssl.SSLContext`, `grpc.ServerCredentials`, a client context), but
from the same files and with the same rule, so the rule is written once. The settings loader has
already checked that the files exist and load; errors here mean a file changed since.

With `client_ca_file` set, both servers require a client certificate signed by it
(`ssl.CERT_REQUIRED`, gRPC's `require_client_auth`), and the node presents its own certificate
when it calls another node, so its certificate must be usable for client authentication too.
"""

from __future__ import annotations

import pathlib
import ssl

import grpc

from conflux_node.settings import TlsSettings

__all__ = ["client_context", "grpc_credentials", "server_context"]


def server_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The context for the HTTPS server, or None when TLS is off."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file is not None:
        context.load_verify_locations(cafile=tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    return context


def grpc_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """Credentials for the gRPC server's secure port, or None when TLS is off."""
    if tls.cert_file is None or tls.key_file is None:
        return None
    key = pathlib.Path(tls.key_file).read_bytes()
    cert = pathlib.Path(tls.cert_file).read_bytes()
    if tls.client_ca_file is None:
        return grpc.ssl_server_credentials(((key, cert),))
    return grpc.ssl_server_credentials(
        ((key, cert),),
        root_certificates=pathlib.Path(tls.client_ca_file).read_bytes(),
        require_client_auth=True,
    )


def client_context(tls: TlsSettings) -> ssl.SSLContext | None:
    """The context for calls to other nodes, or None for the default (system trust, no cert).

    It trusts `ca_file`, else `client_ca_file`, else the system's store; when this node's
    servers require client certificates, so do the others', and it presents its own.
    """
    ca_file = tls.ca_file if tls.ca_file is not None else tls.client_ca_file
    presents = tls.client_ca_file is not None and tls.enabled
    if ca_file is None and not presents:
        return None
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    if presents and tls.cert_file is not None and tls.key_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context
