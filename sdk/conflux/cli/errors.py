"""Exit codes, and the one place that turns failures into `error: <code>: <message>`."""

from __future__ import annotations

from enum import IntEnum

from conflux.rest import ApiError


class Exit(IntEnum):
    OK = 0
    API_ERROR = 1  # any other error answer (4xx, or 500)
    USAGE = 2  # click's own usage errors, a bad settings file, a missing tenant
    NOT_FOUND = 3
    CONFLICT = 4  # 409 conflict, 412 stale If-Match
    UNAVAILABLE = 5  # no endpoint answered, 503, or 429 (too many requests: retry later)
    UNAUTHENTICATED = 6  # 401 (no, bad or expired credential) or 403 (forbidden)


class CliError(Exception):
    """A failure the CLI detects itself, with the code and exit status to report."""

    def __init__(self, code: str, message: str, exit_code: Exit = Exit.API_ERROR) -> None:
        super().__init__(message)
        self.code, self.message, self.exit_code = code, message, exit_code


def exit_code_for_status(status: int) -> Exit:
    if status == 404:
        return Exit.NOT_FOUND
    if status in (409, 412):
        return Exit.CONFLICT
    if status in (503, 429):
        return Exit.UNAVAILABLE
    if status in (401, 403):
        return Exit.UNAUTHENTICATED
    return Exit.API_ERROR


def describe(error: BaseException) -> tuple[str, str, Exit]:
    """(code, message, exit code) for an error raised while running a command."""
    if isinstance(error, CliError):
        return error.code, error.message, error.exit_code
    if isinstance(error, ApiError):
        message = error.message
        current = error.details.get("current") if error.details else None
        if error.code == "revision_mismatch" and current is not None:
            message = f"{message} (current revision {current})"
        retry_after = error.details.get("retry_after") if error.details else None
        if error.status == 429 and retry_after is not None:
            message = f"{message} (retry after {retry_after} s)"
        return error.code, message, exit_code_for_status(error.status)
    if isinstance(error, ConnectionError):
        return "unavailable", str(error), Exit.UNAVAILABLE
    if isinstance(error, OSError):
        return "io_error", str(error), Exit.API_ERROR
    return "internal", f"{type(error).__name__}: {error}", Exit.API_ERROR
