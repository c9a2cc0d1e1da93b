"""TLS on a real port: HTTPS with and without client certificates, gRPC Watch, peer calls.

The certificates are made here with `cryptography`: a CA, a server certificate for 127.0.0.1
and localhost (usable for client authentication too, as a node's own certificate must be when
it calls other nodes), and a client certificate.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import pathlib
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import grpc
import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from conflux.v1 import watch_pb2, watch_pb2_grpc
from conflux_node.api.cluster import close_session, open_session
from conflux_node.api.context import ACCESS, HUB, PEER_SSL, SESSION
from conflux_node.api.grpc_watch import start_grpc
from conflux_node.service.cluster import ClusterInfo, MemberInfo
from conflux_node.settings import TlsSettings
from conflux_node.tls import client_context, grpc_credentials, server_context
from tests.unit.api.conftest import TOKEN, C, FixedStatus, authed, make_app, setup_config

REF = watch_pb2.ConfigRef(tenant="acme", app="shop", env="prod", name="db")


@dataclass(frozen=True)
class Pki:
    ca: pathlib.Path
    server_cert: pathlib.Path
    server_key: pathlib.Path
    client_cert: pathlib.Path
    client_key: pathlib.Path
    other_ca: pathlib.Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(path: pathlib.Path, key: ec.EllipticCurvePrivateKey) -> pathlib.Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


def _write_cert(path: pathlib.Path, cert: x509.Certificate) -> pathlib.Path:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _ca(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(_name(common))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _leaf(
    common: str,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    usages: list[x509.ObjectIdentifier],
    names: list[x509.GeneralName],
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert, ca_key = ca
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    ca = _ca("conflux test ca")
    server_cert, server_key = _leaf(
        "node",
        ca,
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
        [x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")), x509.DNSName("localhost")],
    )
    client_cert, client_key = _leaf("client", ca, [ExtendedKeyUsageOID.CLIENT_AUTH], [])
    other_ca, _ = _ca("some other ca")
    return Pki(
        ca=_write_cert(root / "ca.pem", ca[0]),
        server_cert=_write_cert(root / "server.pem", server_cert),
        server_key=_write_key(root / "server.key", server_key),
        client_cert=_write_cert(root / "client.pem", client_cert),
        client_key=_write_key(root / "client.key", client_key),
        other_ca=_write_cert(root / "other-ca.pem", other_ca),
    )


def server_tls(pki: Pki, *, require_client: bool) -> TlsSettings:
    return TlsSettings(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        client_ca_file=str(pki.ca) if require_client else None,
    )


def trusting(
    ca: pathlib.Path, cert: pathlib.Path | None = None, key: pathlib.Path | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert is not None:
        context.load_cert_chain(str(cert), str(key))
    return context


@dataclass
class Served:
    url: str
    app: web.Application


async def serve(tls: TlsSettings) -> AsyncIterator[Served]:
    app = make_app()
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_context(tls))
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield Served(f"https://127.0.0.1:{port}", app)
    finally:
        await runner.cleanup()


@pytest.fixture
async def https(pki: Pki) -> AsyncIterator[Served]:
    async for served in serve(server_tls(pki, require_client=False)):
        yield served


@pytest.fixture
async def mutual(pki: Pki) -> AsyncIterator[Served]:
    async for served in serve(server_tls(pki, require_client=True)):
        yield served


async def get_status(url: str, context: ssl.SSLContext | None) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url + "/health", ssl=context if context else True) as response,
    ):
        return response.status


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------------------------
# Contexts


def test_no_tls_means_no_contexts() -> None:
    off = TlsSettings()
    assert server_context(off) is None
    assert grpc_credentials(off) is None
    assert client_context(off) is None


def test_server_context_requires_client_certs_only_with_a_client_ca(pki: Pki) -> None:
    plain = server_context(server_tls(pki, require_client=False))
    required = server_context(server_tls(pki, require_client=True))
    assert plain is not None and plain.verify_mode == ssl.CERT_NONE
    assert required is not None and required.verify_mode == ssl.CERT_REQUIRED


# --------------------------------------------------------------------------------------------
# HTTPS


async def test_https_with_the_ca_succeeds(https: Served, pki: Pki) -> None:
    assert await get_status(https.url, trusting(pki.ca)) == 200
    localhost = https.url.replace("127.0.0.1", "localhost")
    assert await get_status(localhost, trusting(pki.ca)) == 200


async def test_https_without_trusting_the_ca_fails(https: Served, pki: Pki) -> None:
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await get_status(https.url, None)
    with pytest.raises(aiohttp.ClientConnectorCertificateError):
        await get_status(https.url, trusting(pki.other_ca))


async def test_plain_http_to_an_https_port_fails(https: Served) -> None:
    with pytest.raises(aiohttp.ClientError):
        await get_status(https.url.replace("https://", "http://"), None)


async def test_client_certificate_required(mutual: Served, pki: Pki) -> None:
    with pytest.raises(aiohttp.ClientError):
        await get_status(mutual.url, trusting(pki.ca))
    assert await get_status(mutual.url, trusting(pki.ca, pki.client_cert, pki.client_key)) == 200


async def test_peer_status_over_mutual_tls(mutual: Served, pki: Pki) -> None:
    """Another node's session, built like the node's, reaches /cluster/self with its cert."""
    tls = TlsSettings(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        client_ca_file=str(pki.ca),
    )
    peer = web.Application()
    peer[PEER_SSL] = client_context(tls)
    members = (
        MemberInfo("n1", "127.0.0.1:1", "https://127.0.0.1:9"),
        MemberInfo("n2", "127.0.0.1:2", mutual.url),
    )
    cluster = ClusterInfo("n1", members, FixedStatus())
    await open_session(peer)
    try:
        status = await cluster.status(peer[SESSION])
    finally:
        await close_session(peer)
    assert status["members"][1]["commit_index"] == 5
    assert status["members"][1]["healthy"] is True
    connector = aiohttp.TCPConnector(ssl=trusting(pki.ca))  # trusts, but presents no cert
    async with aiohttp.ClientSession(connector=connector) as session:
        status = await cluster.status(session)
    assert status["members"][1]["healthy"] is False


def test_client_context_trusts_ca_file_then_client_ca(pki: Pki) -> None:
    only_ca = client_context(TlsSettings(ca_file=str(pki.ca)))
    assert only_ca is not None and only_ca.verify_mode == ssl.CERT_REQUIRED
    assert len(only_ca.get_ca_certs()) == 1


# --------------------------------------------------------------------------------------------
# gRPC


async def watch_first(port: int, credentials: grpc.ChannelCredentials, token: str) -> Any:
    async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
        stub = watch_pb2_grpc.ConfluxWatchStub(channel)
        request = watch_pb2.WatchRequest(configs=[watch_pb2.Held(config=REF)])
        stream: Any = stub.Watch(request, metadata=[("authorization", f"Bearer {token}")])
        first = await asyncio.wait_for(stream.read(), 5)
        stream.cancel()
        return first


@pytest.mark.parametrize("require_client", [False, True])
async def test_grpc_watch_over_tls(pki: Pki, require_client: bool) -> None:
    async with authed(make_app()) as client:
        await setup_config(client, ['{"v": 1}'])
        await client.put(C + "/release", json={"default_version": 1})
        port = free_port()
        credentials = grpc_credentials(server_tls(pki, require_client=require_client))
        app = client.app
        server = await start_grpc(app[HUB], app[ACCESS], "127.0.0.1", port, credentials)
        token = app[TOKEN]
        try:
            channel = grpc.ssl_channel_credentials(
                root_certificates=pki.ca.read_bytes(),
                private_key=pki.client_key.read_bytes(),
                certificate_chain=pki.client_cert.read_bytes(),
            )
            first = await watch_first(port, channel, token)
            assert first.updates[0].version == 1
            if require_client:
                no_cert = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
                with pytest.raises(grpc.aio.AioRpcError) as info:
                    await watch_first(port, no_cert, token)
                assert info.value.code() == grpc.StatusCode.UNAVAILABLE
            untrusted = grpc.ssl_channel_credentials(root_certificates=pki.other_ca.read_bytes())
            with pytest.raises(grpc.aio.AioRpcError):
                await watch_first(port, untrusted, token)
        finally:
            await server.stop(None)
