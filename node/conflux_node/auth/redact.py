"""Masking of credentials in log records.

Logs leave the cluster (to collectors, to tickets, to people), so a credential that
reaches one is leaked. Code should never log one, and this filter is the net for when
it does: bearer and basic credentials, anything shaped like a JWT, `cfx_` API keys, and
the values of password-, secret- and token-like fields in JSON, Python reprs and
`key=value` text.

The filter renders the message with its arguments first and redacts the result: a
secret can hide in any argument's `repr` (a dict, a request object), and rendering is
the only way to see what the handler would write. Tracebacks are rendered and redacted
the same way, because exception messages quote their inputs. An API key keeps its
`cfx_<id>_` prefix: the id is not secret and tells an operator which key leaked.

Install it on each handler (`handler.addFilter(RedactingFilter())`): filters on a
logger do not see records that propagate from its children.
"""

from __future__ import annotations

import logging
import re

MASK = "[REDACTED]"

_SCHEME = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?")
_APIKEY = re.compile(r"cfx_[A-Za-z0-9_-]+")
_APIKEY_ID = re.compile(r"cfx_([a-z2-7]{12})_")
_CREDENTIAL_FIELD = r"[\w-]*(?:password|passwd|secret|token|api_?key|authorization)[\w-]*"
_QUOTED_FIELD = re.compile(
    rf"(?i)(?P<q>\\?[\"'])(?P<name>{_CREDENTIAL_FIELD})(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<vq>\\?[\"'])(?:\\.|(?!(?P=vq)).)*?(?P=vq)"
)
_KV_FIELD = re.compile(rf"(?i)\b(?P<name>{_CREDENTIAL_FIELD})=(?![\"'])[^\s&,;)]+")


def _mask_apikey(match: re.Match[str]) -> str:
    known = _APIKEY_ID.match(match.group(0))
    return f"cfx_{known.group(1)}_{MASK}" if known else f"cfx_{MASK}"


def _mask_field(match: re.Match[str]) -> str:
    q, vq = match["q"], match["vq"]
    return f"{q}{match['name']}{q}{match['sep']}{vq}{MASK}{vq}"


def redact(text: str) -> str:
    """`text` with every credential form this module knows replaced by `[REDACTED]`."""
    text = _QUOTED_FIELD.sub(_mask_field, text)
    text = _KV_FIELD.sub(lambda m: f"{m['name']}={MASK}", text)
    text = _SCHEME.sub(lambda m: f"{m[1]}{m[2]}{MASK}", text)
    text = _JWT.sub(MASK, text)
    return _APIKEY.sub(_mask_apikey, text)


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record with its credentials masked.

    It never drops a record. After it runs, `record.msg` holds the redacted,
    fully rendered message and `record.args` is empty, so no later formatter can
    render the original arguments again; the traceback is kept as redacted
    `exc_text` only, for the same reason.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not let the arguments through
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
