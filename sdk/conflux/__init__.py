"""Conflux client package: what applications and scripts import.

For now it holds `RestClient`, a small dependency-free client for the node's HTTP API.
The live SDK (`ConfluxClient` with caches and watch) builds on it.
"""

from conflux.rest import ApiError, RestClient

__all__ = ["ApiError", "RestClient"]
__version__ = "0.1.0"
