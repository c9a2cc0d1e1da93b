"""Conflux client package: what applications and scripts import.

`ConfluxClient` (blocking) and `AsyncConfluxClient` (asyncio) give live, cached views of
configs, kept current by a gRPC watch stream with a polling safety net and backed by an
on-disk cache. `RestClient` is a small dependency-free client for the node's HTTP API.
"""

from conflux.aio import AsyncConfluxClient
from conflux.client import ConfluxClient
from conflux.formats import FormatError, parse_document, parse_properties
from conflux.rest import ApiError, RestClient
from conflux.snapshot import ChangeEvent, ConfigKeyError, ConfigTypeError, ConfigView, Snapshot
from conflux.watcher import Backoff

__all__ = [
    "ApiError",
    "AsyncConfluxClient",
    "Backoff",
    "ChangeEvent",
    "ConfigKeyError",
    "ConfigTypeError",
    "ConfigView",
    "ConfluxClient",
    "FormatError",
    "RestClient",
    "Snapshot",
    "parse_document",
    "parse_properties",
]
__version__ = "0.1.0"
