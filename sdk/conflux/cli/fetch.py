"""`conflux fetch NAME`: what a client with this identity is served."""

from __future__ import annotations

import sys

import click

from conflux.cli.context import get_ctx, global_options
from conflux.cli.output import short_sha
from conflux.cli.params import labels_query, parse_labels
from conflux.rest import config_path


@click.command("fetch")
@click.argument("name")
@click.option("--client-id", metavar="ID", help="Client identity (sticky percentage rules).")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="Client label (repeatable).")
@click.option("--raw", is_flag=True, help="Print the content only.")
@global_options
def fetch(name: str, client_id: str | None, labels: tuple[str, ...], raw: bool) -> None:
    """Fetch NAME as a client would: rules evaluated for this identity.

    The IP used by ip rules is the address this command connects from.
    """
    ctx = get_ctx()
    path = config_path(*ctx.scope(), name).replace("/api/v1/configs/", "/api/v1/fetch/", 1)
    query: dict[str, str] = {}
    if client_id:
        query["client_id"] = client_id
    parsed = parse_labels(labels)
    if parsed:
        query["labels"] = labels_query(parsed)
    served = ctx.client().get(path, **query)
    out = ctx.output
    if raw:
        content: str = served["content"]
        if content and not content.endswith("\n") and sys.stdout.isatty():
            content += "\n"
        out.write(content)
        return
    if out.json:
        out.emit_json(served)
        return
    out.fields(
        [
            ("version", served["version"]),
            ("release revision", served["release_revision"]),
            ("rule", served.get("rule") or "(default)"),
            ("sha256", short_sha(served["sha256"])),
            ("format", served["format"]),
        ]
    )
    out.line("")
    content = served["content"]
    out.write(content if content.endswith("\n") or not content else content + "\n")
