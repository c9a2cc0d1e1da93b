"""Domain errors of authentication and authorization.

They subclass `ConfluxError` so the edges map them through the same tables as every
other domain error (401, 403 and 429 over HTTP). Their messages are fixed phrases:
a credential must never travel back in an error body or into a log line, so nothing
here formats the offending token, key or password into the text.
"""

from __future__ import annotations

from conflux_node.model.errors import ConfluxError


class Unauthenticated(ConfluxError):
    """No credential, or one that is malformed, tampered, expired or revoked (401)."""

    code = "unauthenticated"


class Forbidden(ConfluxError):
    """The caller is known but the policy does not grant the action (403)."""

    code = "forbidden"


class TooManyRequests(ConfluxError):
    """The caller exceeded a rate limit; `details.retry_after` says when to retry (429)."""

    code = "too_many_requests"
