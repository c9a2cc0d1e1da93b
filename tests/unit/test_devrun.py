"""`make run` helpers: the dev admin password and token files."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from conflux.rest import ApiError
from conflux_node.devrun import dev_password, write_token


def test_dev_password_is_made_once_and_private(tmp_path: Path) -> None:
    first = dev_password(tmp_path)
    assert len(first) >= 20
    assert dev_password(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "admin-password").stat().st_mode) == 0o600


class FlakyLogin:
    """Answers 401 until the bootstrap 'happened', then a token."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[Any] = []

    def post(self, path: str, body: Any) -> Any:
        self.bodies.append(body)
        if self.failures:
            self.failures -= 1
            raise ApiError(401, "unauthenticated", "no", {})
        return {"token": "tok-123", "expires_at": "later"}


def test_write_token_retries_while_bootstrapping(tmp_path: Path) -> None:
    client = FlakyLogin(failures=2)
    path = write_token(client, tmp_path, "pw")  # type: ignore[arg-type]
    assert path == tmp_path / "token"
    assert path.read_text() == "tok-123\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert client.bodies == [{"username": "admin", "password": "pw"}] * 3


def test_write_token_gives_up_on_a_wrong_password(tmp_path: Path) -> None:
    client = FlakyLogin(failures=10**6)
    assert write_token(client, tmp_path, "pw", wait=0.5) is None  # type: ignore[arg-type]
    assert not (tmp_path / "token").exists()
