"""Conflux node: a Raft-replicated configuration store with an HTTP API."""

__version__ = "0.1.0"
