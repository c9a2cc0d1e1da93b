"""Log redaction: every secret form, in messages, arguments and tracebacks."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import pytest

from conflux_node.auth.apikeys import generate_api_key
from conflux_node.auth.redact import MASK, RedactingFilter, redact

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


def test_bearer_and_basic() -> None:
    assert redact("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {MASK}"
    assert redact("authorization: bearer opaque==") == f"authorization: bearer {MASK}"
    assert redact("Basic dXNlcjpwYXNz here") == f"Basic {MASK} here"


def test_bare_jwt() -> None:
    assert redact(f"token was {JWT}, refused") == f"token was {MASK}, refused"
    assert redact("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.") == f"unsigned {MASK}"


def test_api_key_keeps_its_id() -> None:
    key_id, key = generate_api_key()
    out = redact(f"using {key} now")
    assert out == f"using cfx_{key_id}_{MASK} now"
    assert key not in out
    assert redact("cfx_WRONGshape_secretsecret") == f"cfx_{MASK}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"username": "a", "password": "hunter2"}', f'{{"username": "a", "password": "{MASK}"}}'),
        ('{"password":"hun\\"ter2"}', f'{{"password":"{MASK}"}}'),
        ("{'new_password': 'hunter2'}", f"{{'new_password': '{MASK}'}}"),
        ('{\\"Password\\": \\"hunter2\\"}', f'{{\\"Password\\": \\"{MASK}\\"}}'),
        ('{"client_secret": "hunter2"}', f'{{"client_secret": "{MASK}"}}'),
        ('{"token": "hunter2"}', f'{{"token": "{MASK}"}}'),
        ("user=a password=hunter2 next=1", f"user=a password={MASK} next=1"),
        ("?username=a&password=hunter2&x=1", f"?username=a&password={MASK}&x=1"),
    ],
)
def test_password_like_fields(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_innocent_text_is_untouched() -> None:
    text = 'GET /api/v1/tenants/a/configs {"format": "json", "version": 3} 200 1.2ms'
    assert redact(text) == text


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_filter_redacts_message_and_args(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    _, key = generate_api_key()
    logger.info("login body %s", {"username": "a", "password": "hunter2"})
    logger.info("header %r and key %s", f"Bearer {JWT}", key)
    logger.info("mapping %(who)s %(tok)s", {"who": "a", "tok": JWT})
    logger.warning(f"inline {key}")
    out = stream.getvalue()
    for secret in ("hunter2", JWT, key):
        assert secret not in out
    assert out.count(MASK) == 5
    assert "login body {'username': 'a', 'password': '[REDACTED]'}" in out


def test_filter_redacts_tracebacks(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        logger.exception("failed")
    out = stream.getvalue()
    assert "Traceback" in out and "ValueError" in out
    assert JWT not in out
    assert MASK in out


def test_no_later_formatter_can_render_the_original_traceback() -> None:
    class Rerendering(logging.Formatter):
        """Some JSON formatters render exc_info themselves instead of using exc_text."""

        def format(self, record: logging.LogRecord) -> str:
            if record.exc_info:
                return self.formatException(record.exc_info)
            return record.exc_text or ""

    try:
        raise ValueError(f"bad token {JWT}")
    except ValueError:
        record = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    RedactingFilter().filter(record)
    out = Rerendering().format(record)
    assert "ValueError: bad token" in out
    assert JWT not in out


def test_filter_survives_a_broken_format(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = captured
    logger.info("two %s %s", "password=hunter2")  # noqa: PLE1206 - broken on purpose
    out = stream.getvalue()
    assert "hunter2" not in out
    assert "two" in out


def test_filter_keeps_every_record() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %d", (3,), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "plain 3"
