"""Rendering: rich tables for people, stable JSON for scripts, errors on stderr.

User data (names, labels, messages, content) is always wrapped in `Text` so that rich
never reads it as markup.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from rich.console import Console
from rich.table import Table
from rich.text import Text

Format = Literal["table", "json"]
WIDE = 200  # when stdout is not a terminal, do not wrap tables at 80 columns


def make_console(stderr: bool = False) -> Console:
    probe = Console(stderr=stderr)
    width = None if probe.is_terminal or os.environ.get("COLUMNS") else WIDE
    return Console(stderr=stderr, width=width, highlight=False, soft_wrap=False)


def to_json(data: Any) -> str:
    """Stable JSON: sorted keys, two-space indent, UTF-8 kept as is."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False)


def to_json_line(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def cell(value: Any) -> Text:
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, bool):
        return Text("yes" if value else "no", style="green" if value else "red")
    return Text(str(value))


def short_sha(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def number_text(value: Any) -> Any:
    """10.0 -> 10, 12.5 stays 12.5: how a person writes a percentage."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def labels_text(labels: Mapping[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "-"


class Output:
    def __init__(self, fmt: Format) -> None:
        self.format: Format = fmt
        self.console = make_console()
        self.err = make_console(stderr=True)

    @property
    def json(self) -> bool:
        return self.format == "json"

    def emit_json(self, data: Any) -> None:
        self.write(to_json(data) + "\n")

    def write(self, text: str) -> None:
        """Write exactly `text` to stdout (no markup, no wrapping)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    def line(self, text: str | Text, style: str | None = None) -> None:
        rendered = text if isinstance(text, Text) else Text(text, style=style or "")
        self.console.print(rendered, soft_wrap=True)

    def table(
        self,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        title: str | None = None,
        empty: str = "nothing to show",
    ) -> None:
        rows = list(rows)
        if not rows:
            self.err.print(Text(empty, style="dim"))
            return
        table = Table(title=title, header_style="bold", box=None, pad_edge=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*(cell(v) for v in row))
        self.print_block(table)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """A two-column key/value listing."""
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in pairs:
            table.add_row(Text(key), cell(value))
        self.print_block(table)

    def print_block(self, renderable: Table) -> None:
        """Print a table; without a terminal, drop the padding at the end of lines."""
        if self.console.is_terminal:
            self.console.print(renderable)
            return
        with self.console.capture() as capture:
            self.console.print(renderable)
        text = capture.get()
        self.write("".join(line.rstrip() + "\n" for line in text.splitlines()))

    def error(self, code: str, message: str) -> None:
        self.err.print(Text(f"error: {code}: {message}", style="red"), soft_wrap=True)

    def warn(self, message: str) -> None:
        self.err.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)
