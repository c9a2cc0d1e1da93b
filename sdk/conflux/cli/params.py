"""Shared option parsing: labels, version numbers, paging through list answers."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import click

from conflux.rest import RestClient

PAGE_MAX = 100


def parse_labels(values: Iterable[str], option: str = "--label") -> dict[str, str]:
    """`("zone=a", "tier=web")` -> {"zone": "a", "tier": "web"}."""
    labels: dict[str, str] = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{value!r} is not k=v", param_hint=option)
        labels[key.strip()] = val.strip()
    return labels


def labels_query(labels: dict[str, str]) -> str:
    for key, value in labels.items():
        if "," in key or "," in value or "=" in key:
            raise click.BadParameter(
                f"label {key}={value} cannot contain ',' (or '=' in the key)",
                param_hint="--label",
            )
    return ",".join(f"{k}={v}" for k, v in labels.items())


class VersionType(click.ParamType[int | str]):
    """A version number (>= 1) or the word `latest`."""

    name = "VERSION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> int | str:
        if value == "latest":
            return "latest"
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            self.fail(f"{value!r} is not a version number or 'latest'", param, ctx)
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a version number or 'latest'", param, ctx)
        if number < 1:
            self.fail(f"{value!r} must be at least 1", param, ctx)
        return number


VERSION = VersionType()


def collect(client: RestClient, path: str, limit: int | None) -> list[Any]:
    """Follow `next` cursors until `limit` items (None: all of them)."""
    items: list[Any] = []
    after: str | None = None
    while limit is None or len(items) < limit:
        want = PAGE_MAX if limit is None else min(PAGE_MAX, limit - len(items))
        query = {"limit": str(want)}
        if after is not None:
            query["after"] = after
        page = client.get(path, **query)
        items.extend(page["items"])
        if page.get("next") is None or not page["items"]:
            break
        after = str(page["next"])
    return items


def read_text(path: str, option: str) -> str:
    """A file's UTF-8 text; `-` reads stdin."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as handle:
                data = handle.read()
    except OSError as error:
        raise click.BadParameter(
            f"cannot read {path}: {error.strerror}", param_hint=option
        ) from None
    try:
        text: str = data.decode("utf-8")
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path} is not UTF-8 text", param_hint=option) from None
    return text


def load_structured(path: str, option: str) -> Any:
    """A JSON file, or YAML when the name ends in .yaml/.yml (needs PyYAML)."""
    text = read_text(path, option)
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise click.BadParameter(
                "reading YAML needs PyYAML (pip install PyYAML); or pass JSON",
                param_hint=option,
            ) from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise click.BadParameter(
                f"{path} is not valid YAML: {error}", param_hint=option
            ) from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"{path} is not valid JSON: {error}", param_hint=option) from None


def seg(value: str) -> str:
    return quote(value, safe="")


def confirm_delete(yes: bool, what: str, detail: str = "") -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise click.UsageError(f"refusing to delete {what} without --yes")
    click.confirm(f"Delete {what}{detail}?", abort=True)


def iso_time(value: str | None, option: str) -> str | None:
    """An ISO-8601 time with an offset, as the API wants it (a bare `Z` is accepted)."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO-8601 time", param_hint=option) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} needs an offset, e.g. {value}+00:00", param_hint=option
        )
    return parsed.isoformat()
