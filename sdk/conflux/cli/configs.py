"""`conflux config ...`: create, push versions, read, diff, list and delete configs."""

from __future__ import annotations

import difflib
import sys
from typing import Any

import click
from rich.text import Text

from conflux.cli.context import get_ctx, global_options
from conflux.cli.errors import CliError, Exit
from conflux.cli.output import labels_text, short_sha
from conflux.cli.params import VERSION, collect, load_structured, parse_labels, read_text
from conflux.rest import ApiError, RestClient

FORMATS = ("json", "yaml", "toml", "properties", "text")


@click.group()
def config() -> None:
    """Configs and their versions."""


def latest_version(client: RestClient, path: str, name: str) -> int:
    meta = client.get(path)
    number = int(meta.get("latest_version") or 0)
    if number < 1:
        raise CliError("version_not_found", f"config {name} has no versions yet", Exit.NOT_FOUND)
    return number


def resolve_version(client: RestClient, path: str, name: str, version: int | str) -> int:
    return latest_version(client, path, name) if version == "latest" else int(version)


@config.command("create")
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True, help="Content format.")
@click.option("--schema", metavar="FILE", help="JSON Schema file (.json, or .yaml with PyYAML).")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="A label (repeatable).")
@click.option(
    "--keep-last", type=click.IntRange(min=1), help="Retention: keep the last N versions."
)
@click.option("--keep-days", type=click.IntRange(min=1), help="Retention: keep N days of versions.")
@click.option(
    "--separate-releaser",
    is_flag=True,
    help="Lock: whoever authored a version may not release it.",
)
@click.option("--update", is_flag=True, help="Replace the settings of an existing config.")
@global_options
def create(
    *,
    name: str,
    fmt: str,
    schema: str | None,
    labels: tuple[str, ...],
    keep_last: int | None,
    keep_days: int | None,
    separate_releaser: bool,
    update: bool,
) -> None:
    """Create config NAME (with --update: create or replace its settings)."""
    ctx = get_ctx()
    body: dict[str, Any] = {"format": fmt, "labels": parse_labels(labels)}
    if separate_releaser:
        body["separate_releaser"] = True
    if schema is not None:
        body["schema"] = load_structured(schema, "--schema")
    retention = {k: v for k, v in (("keep_last", keep_last), ("keep_days", keep_days)) if v}
    if retention:
        body["retention"] = retention
    client, path = ctx.client(), ctx.config_path(name)
    if not update:
        try:
            client.get(path)
        except ApiError as error:
            if error.code != "config_not_found":
                raise
        else:
            raise CliError(
                "already_exists",
                f"config {name} already exists (pass --update to replace its settings)",
                Exit.CONFLICT,
            )
    status, result = client.request("PUT", path, body)
    out = ctx.output
    if out.json:
        out.emit_json({"created": status == 201, "config": result})
    else:
        out.line(f"{'created' if status == 201 else 'updated'} config {name} ({fmt})")


@config.command("show")
@click.argument("name")
@global_options
def show(name: str) -> None:
    """Settings, latest version and current release of config NAME."""
    ctx = get_ctx()
    meta = ctx.client().get(ctx.config_path(name))
    out = ctx.output
    if out.json:
        out.emit_json(meta)
        return
    latest = meta.get("latest") or {}
    release = meta.get("release") or {}
    retention = meta.get("retention") or {}
    out.fields(
        [
            ("name", f"{meta['tenant']}/{meta['app']}/{meta['env']}/{meta['name']}"),
            ("format", meta["format"]),
            ("labels", labels_text(meta.get("labels"))),
            ("schema", "yes" if meta.get("schema") else "no"),
            ("retention", ", ".join(f"{k}={v}" for k, v in retention.items() if v) or "-"),
            ("separate releaser", "yes" if meta.get("separate_releaser") else "no"),
            ("latest version", latest.get("version")),
            ("latest sha256", latest.get("sha256")),
            ("release revision", release.get("revision")),
            ("default version", release.get("default_version")),
            ("rules", len(release.get("rules") or []) if release else None),
            ("updated", meta.get("updated_at")),
        ]
    )


@config.command("push")
@click.argument("name")
@click.argument("file", metavar="FILE")
@click.option("-m", "--message", default="", help="What changed (stored with the version).")
@global_options
def push(name: str, file: str, message: str) -> None:
    """Create a version of NAME from FILE (`-` reads stdin).

    Pushing the same content as the latest version creates nothing and says so.
    """
    ctx = get_ctx()
    content = read_text(file, "FILE")
    body: dict[str, Any] = {"content": content}
    if message:
        body["message"] = message
    result = ctx.client().post(ctx.config_path(name) + "/versions", body)
    out = ctx.output
    if out.json:
        out.emit_json(result)
    elif result["created"]:
        out.line(f"created version {result['version']} (sha256 {short_sha(result['sha256'])})")
    else:
        out.line(f"unchanged (same as version {result['version']})")


@config.command("get")
@click.argument("name")
@click.option("--version", "version", type=VERSION, default="latest", show_default=True,
              help="Version number or 'latest'.")  # fmt: skip
@global_options
def get(name: str, version: int | str) -> None:
    """Print the content of one version of NAME (the latest by default)."""
    ctx = get_ctx()
    client, path = ctx.client(), ctx.config_path(name)
    number = resolve_version(client, path, name, version)
    record = client.get(f"{path}/versions/{number}")
    out = ctx.output
    if out.json:
        out.emit_json(record)
        return
    content: str = record["content"]
    if content and not content.endswith("\n") and sys.stdout.isatty():
        content += "\n"
    out.write(content)


@config.command("versions")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many, newest first (0: all).")  # fmt: skip
@global_options
def versions(name: str, limit: int) -> None:
    """List the versions of NAME, newest first."""
    ctx = get_ctx()
    items = collect(ctx.client(), ctx.config_path(name) + "/versions", limit or None)
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["VERSION", "SHA256", "SIZE", "AUTHOR", "CREATED", "MESSAGE"],
        (
            [i["version"], short_sha(i["sha256"]), i["size"], i["author"], i["created_at"],
             i["message"]]
            for i in items
        ),
        empty=f"config {name} has no versions yet",
    )  # fmt: skip


@config.command("diff")
@click.argument("name")
@click.argument("a", metavar="A", type=VERSION)
@click.argument("b", metavar="B", type=VERSION)
@click.option("-U", "--context", "context_lines", type=click.IntRange(min=0), default=3,
              show_default=True, help="Lines of context.")  # fmt: skip
@global_options
def diff(name: str, a: int | str, b: int | str, context_lines: int) -> None:
    """Unified diff from version A to version B of NAME (either may be 'latest')."""
    ctx = get_ctx()
    client, path = ctx.client(), ctx.config_path(name)
    first = resolve_version(client, path, name, a)
    second = resolve_version(client, path, name, b)
    old = client.get(f"{path}/versions/{first}")["content"]
    new = client.get(f"{path}/versions/{second}")["content"]
    lines = list(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{name}@{first}",
            tofile=f"{name}@{second}",
            n=context_lines,
        )
    )
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    out = ctx.output
    if out.json:
        out.emit_json({"name": name, "from": first, "to": second, "diff": text})
        return
    for line in text.splitlines():
        style = ""
        if line.startswith(("+++", "---")):
            style = "bold"
        elif line.startswith("+"):
            style = "green"
        elif line.startswith("-"):
            style = "red"
        elif line.startswith("@@"):
            style = "cyan"
        out.line(Text(line, style=style))


@config.command("list")
@click.option("--limit", type=click.IntRange(min=0), default=0, show_default=True,
              help="How many (0: all).")  # fmt: skip
@global_options
def list_configs(limit: int) -> None:
    """List the configs of the tenant/app/env, by name."""
    ctx = get_ctx()
    tenant, app, env = ctx.scope()
    path = "/api/v1/configs/" + "/".join((tenant, app, env))
    items = collect(ctx.client(), path, limit or None)
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["NAME", "FORMAT", "LATEST", "RELEASE", "UPDATED", "LABELS"],
        (
            [i["name"], i["format"], i["latest_version"] or None, i["release_revision"] or None,
             i["updated_at"], labels_text(i.get("labels"))]
            for i in items
        ),
        empty=f"no configs in {tenant}/{app}/{env}",
    )  # fmt: skip


@config.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@global_options
def delete(name: str, yes: bool) -> None:
    """Delete NAME with all its versions and releases."""
    ctx = get_ctx()
    path = ctx.config_path(name)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError(f"refusing to delete {name} without --yes")
        click.confirm(f"Delete config {name} with all its versions and releases?", abort=True)
    ctx.client().delete(path)
    out = ctx.output
    if out.json:
        out.emit_json({"deleted": name})
    else:
        out.line(f"deleted config {name}")
