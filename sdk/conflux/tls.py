"""TLS for the SDK and CLI: the `ssl.SSLContext` for HTTPS and the gRPC channel credentials.

Both are built from the same three optional files, so the rule is written once: trust
`ca_file` (else the system's store) and, when `cert_file` is given, present it with
`key_file` (a combined PEM may hold both, so `key_file` is optional). A file that cannot be
read raises `TlsError` (a `ValueError`) at construction, naming the file, rather than a
connection error later.
"""

from __future__ import annotations

import os
import pathlib
import re
import ssl
from dataclasses import dataclass

import grpc

__all__ = ["TlsError", "TlsFiles"]

StrPath = str | os.PathLike[str]
_PEM_KEY = re.compile(
    rb"-----BEGIN ([A-Z ]*)PRIVATE KEY-----.*?-----END \1PRIVATE KEY-----\r?\n?", re.DOTALL
)


class TlsError(ValueError):
    """A CA, certificate or key file that is missing or cannot be loaded."""


def _read(kind: str, path: str) -> bytes:
    try:
        return pathlib.Path(path).read_bytes()
    except OSError as error:
        raise TlsError(f"cannot read {kind} {path}: {error.strerror or error}") from None


@dataclass(frozen=True, slots=True)
class TlsFiles:
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    @classmethod
    def of(
        cls,
        ca_file: StrPath | None = None,
        cert_file: StrPath | None = None,
        key_file: StrPath | None = None,
    ) -> TlsFiles:
        """Check the files now: each must be readable, and a key needs a certificate."""
        files = cls(*(None if p is None else os.fspath(p) for p in (ca_file, cert_file, key_file)))
        if files.key_file is not None and files.cert_file is None:
            raise TlsError("a client key file was given without a client certificate file")
        if files.configured:
            files.ssl_context()  # loads every file: a bad one fails here, with its name
        return files

    @property
    def configured(self) -> bool:
        return self.ca_file is not None or self.cert_file is not None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context: verifies the server (against `ca_file` or the system's store)."""
        if self.ca_file is not None:
            _read("CA file", self.ca_file)
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=self.ca_file)
        except (ssl.SSLError, ValueError) as error:
            raise TlsError(f"CA file {self.ca_file} holds no usable certificate: {error}") from None
        if self.cert_file is not None:
            _read("client certificate file", self.cert_file)
            if self.key_file is not None:
                _read("client key file", self.key_file)
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (ssl.SSLError, ValueError) as error:
                raise TlsError(
                    f"cannot load client certificate {self.cert_file}"
                    + (f" with key {self.key_file}" if self.key_file else "")
                    + f": {error}"
                ) from None
        return context

    def grpc_credentials(self) -> grpc.ChannelCredentials:
        """Channel credentials with the same CA and client certificate."""
        root = None if self.ca_file is None else _read("CA file", self.ca_file)
        chain = key = None
        if self.cert_file is not None:
            chain = _read("client certificate file", self.cert_file)
            if self.key_file is not None:
                key = _read("client key file", self.key_file)
            else:  # one PEM holding both, as ssl accepts: gRPC wants them apart
                key = b"".join(m.group(0) for m in _PEM_KEY.finditer(chain))
                chain = _PEM_KEY.sub(b"", chain)
        return grpc.ssl_channel_credentials(
            root_certificates=root, private_key=key, certificate_chain=chain
        )
