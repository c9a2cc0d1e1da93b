"""Parse untrusted request bodies into model values, naming the bad field on error.

Every parser rejects unknown fields: a typo such as `defualt_version` must fail loudly
rather than be ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conflux_node.model.entities import FORMATS, ConfigSpec, Format, Retention
from conflux_node.model.errors import InvalidInput, MalformedBody, UnknownField
from conflux_node.model.formats import check_schema

MAX_MESSAGE = 1024
MAX_LABELS = 64


def require_object(body: object, what: str = "body") -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise MalformedBody(f"the {what} must be a JSON object", field=what)
    return body


def reject_unknown(body: Mapping[str, Any], allowed: set[str], prefix: str = "") -> None:
    for key in body:
        if key not in allowed:
            raise UnknownField(f"unknown field '{prefix}{key}'", field=f"{prefix}{key}")


def parse_config_spec(raw: object) -> ConfigSpec:
    body = require_object(raw)
    reject_unknown(
        body, {"format", "schema", "labels", "retention", "encrypted", "separate_releaser"}
    )
    fmt = body.get("format")
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")
    schema = body.get("schema")
    if schema is not None:
        check_schema(fmt, schema)
    if body.get("encrypted", False) is not False:
        raise InvalidInput(
            "encrypted: true needs a KMS key configured on the cluster, and none is",
            field="encrypted",
        )
    return ConfigSpec(
        format=_as_format(fmt),
        schema=schema,
        labels=parse_labels(body.get("labels"), "labels"),
        retention=parse_retention(body.get("retention")),
        separate_releaser=parse_bool(body, "separate_releaser"),
    )


def parse_bool(body: Mapping[str, Any], field: str, default: bool = False) -> bool:
    """`body[field]` if it is a JSON boolean; `default` if absent; anything else is a 400."""
    value = body.get(field, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{field} must be true or false", field=field)
    return value


def _as_format(value: str) -> Format:
    for fmt in FORMATS:
        if fmt == value:
            return fmt
    raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")


def parse_labels(raw: object, field: str) -> dict[str, str]:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or len(raw) > MAX_LABELS:
        raise InvalidInput(f"{field} must be an object of at most {MAX_LABELS} labels", field=field)
    for key, value in raw.items():
        if not isinstance(value, str) or not key or len(key) > 63 or len(value) > 256:
            raise InvalidInput(
                f"{field}.{key} must be a string of at most 256 characters", field=f"{field}.{key}"
            )
    return dict(raw)


def parse_retention(raw: object) -> Retention:
    if raw is None:
        return Retention()
    body = require_object(raw, "retention")
    reject_unknown(body, {"keep_last", "keep_days"}, "retention.")
    values = {}
    for key in ("keep_last", "keep_days"):
        value = body.get(key)
        if value is not None and (type(value) is not int or value < 1):
            raise InvalidInput(
                f"retention.{key} must be a positive integer", field=f"retention.{key}"
            )
        values[key] = value
    return Retention(values["keep_last"], values["keep_days"])


def parse_version_body(raw: object) -> tuple[str, str]:
    body = require_object(raw)
    reject_unknown(body, {"content", "message"})
    content = body.get("content")
    if not isinstance(content, str):
        raise InvalidInput("content is required and must be a string", field="content")
    return content, parse_message(body.get("message"))


def parse_message(raw: object) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_MESSAGE:
        raise InvalidInput(
            f"message must be a string of at most {MAX_MESSAGE} characters", field="message"
        )
    return raw


def parse_if_match(raw: str | None) -> int | None:
    """`If-Match: 3` or `If-Match: "3"` -> 3; absent -> None."""
    if raw is None:
        return None
    text = raw.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput("If-Match must be a release revision number", field="If-Match")
    return int(text)


def parse_positive(raw: str | None, field: str, default: int | None, maximum: int) -> int | None:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidInput(f"{field} must be an integer from 1 to {maximum}", field=field)
    return int(raw)
