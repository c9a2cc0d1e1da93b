"""Domain errors: each carries a stable `code`, a human message and details.

The edges (HTTP, later gRPC) map these classes to status codes through one table
each; nothing below the edge knows about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ConfluxError(Exception):
    """Base of every error a client may see."""

    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_json(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidInput(ConfluxError):
    """A request body, query or path is malformed; `details.field` names the culprit."""

    code = "invalid_input"


class InvalidName(InvalidInput):
    code = "invalid_name"


class UnknownField(InvalidInput):
    code = "unknown_field"


class MalformedBody(InvalidInput):
    code = "malformed_body"


class ContentInvalid(ConfluxError):
    """Content does not parse in its declared format."""

    code = "content_invalid"


class SchemaViolation(ConfluxError):
    """Content parses but breaks the config's JSON Schema."""

    code = "schema_violation"


class InvalidSchema(ConfluxError):
    code = "invalid_schema"


class ContentTooLarge(ConfluxError):
    code = "content_too_large"


class ConfigNotFound(ConfluxError):
    code = "config_not_found"


class VersionNotFound(ConfluxError):
    code = "version_not_found"


class ReleaseNotFound(ConfluxError):
    code = "release_not_found"


class ReleaseVersionMissing(ConfluxError):
    """A release names a version that does not exist (422, not 404: the body is wrong)."""

    code = "release_version_missing"


class ReleaserIsAuthor(ConfluxError):
    """The config requires a separate releaser, and the releaser authored a version the
    release would newly serve (the namespace lock: the releaser may not be the author)."""

    code = "releaser_is_author"


class RevisionMismatch(ConfluxError):
    code = "revision_mismatch"


class Conflict(ConfluxError):
    code = "conflict"


class NoLeader(ConfluxError):
    code = "no_leader"


class Unavailable(ConfluxError):
    code = "unavailable"


class TenantNotFound(ConfluxError):
    code = "tenant_not_found"


class UserNotFound(ConfluxError):
    code = "user_not_found"


class BindingNotFound(ConfluxError):
    code = "binding_not_found"


class ApiKeyNotFound(ConfluxError):
    code = "apikey_not_found"
