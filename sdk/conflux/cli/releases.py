"""`conflux release ...`: set, show, history and rollback of a config's release.

Rule syntax on the command line (documented in docs/cli.md):

    --rule NAME=VERSION             declare a rule; rules are evaluated in the order given
    --match NAME:labels.KEY=VALUE   the client's label KEY equals VALUE
    --match NAME:ip=CIDR            the client's address is in CIDR (repeat for more)
    --match NAME:client=ID          the client id is ID (repeat for more)
    --match NAME:percent=P          sticky P% of client ids (0-100)

A rule without `--match` matches every client. `--rules-file` takes the same rules in
the API's JSON shape (YAML too when PyYAML is installed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from conflux.cli.configs import latest_version
from conflux.cli.context import get_ctx, global_options
from conflux.cli.errors import CliError, Exit
from conflux.cli.output import Output, number_text
from conflux.cli.params import VERSION, collect, load_structured
from conflux.rest import RestClient

RULE_KEYS = {"name", "match", "version"}
MATCH_KEYS = {"labels", "ip_cidrs", "client_ids", "percentage"}


@click.group()
def release() -> None:
    """Releases: which version each client is served."""


def parse_rules(rules: Sequence[str], matches: Sequence[str]) -> list[dict[str, Any]]:
    """`--rule` and `--match` values -> rules in the API's shape (versions may be 'latest')."""
    parsed: dict[str, dict[str, Any]] = {}
    for raw in rules:
        name, sep, version = raw.partition("=")
        name = name.strip()
        if not sep or not name:
            raise click.BadParameter(f"{raw!r} is not NAME=VERSION", param_hint="--rule")
        if name in parsed:
            raise click.BadParameter(f"rule {name!r} is given twice", param_hint="--rule")
        number = VERSION.convert(version.strip(), None, None)
        parsed[name] = {"name": name, "match": {}, "version": number}
    for raw in matches:
        name, sep, condition = raw.partition(":")
        if not sep or name not in parsed:
            known = ", ".join(parsed) or "none"
            raise click.BadParameter(
                f"{raw!r} must look like RULE:CONDITION with RULE declared by --rule "
                f"(declared: {known})",
                param_hint="--match",
            )
        add_condition(parsed[name]["match"], condition, raw)
    return list(parsed.values())


def add_condition(match: dict[str, Any], condition: str, raw: str) -> None:
    key, sep, value = condition.partition("=")
    key, value = key.strip(), value.strip()
    if not sep or not value:
        raise click.BadParameter(f"{raw!r}: the condition needs KEY=VALUE", param_hint="--match")
    if key.startswith(("labels.", "label.")):
        label = key.split(".", 1)[1]
        if not label:
            raise click.BadParameter(f"{raw!r}: empty label name", param_hint="--match")
        match.setdefault("labels", {})[label] = value
    elif key == "ip":
        match.setdefault("ip_cidrs", []).append(value)
    elif key == "client":
        match.setdefault("client_ids", []).append(value)
    elif key == "percent":
        try:
            percentage = float(value.removesuffix("%"))
        except ValueError:
            percentage = -1.0
        if not 0 <= percentage <= 100:
            raise click.BadParameter(f"{raw!r}: percent must be 0-100", param_hint="--match")
        match["percentage"] = int(percentage) if percentage.is_integer() else percentage
    else:
        raise click.BadParameter(
            f"{raw!r}: unknown condition {key!r} (use labels.KEY, ip, client or percent)",
            param_hint="--match",
        )


def rules_from_file(data: Any) -> tuple[list[dict[str, Any]], Any, str | None]:
    """A list of rules, or {rules, default_version?, message?} -> (rules, default, message)."""
    default, message = None, None
    if isinstance(data, Mapping):
        unknown = sorted(set(data) - {"rules", "default_version", "message"})
        if unknown:
            raise click.BadParameter(f"unknown key {unknown[0]!r}", param_hint="--rules-file")
        default, message = data.get("default_version"), data.get("message")
        data = data.get("rules") or []
    if not isinstance(data, list):
        raise click.BadParameter(
            "must hold a list of rules or {rules, default_version}", param_hint="--rules-file"
        )
    rules: list[dict[str, Any]] = []
    for index, rule in enumerate(data):
        where = f"rule {index + 1}"
        if not isinstance(rule, Mapping) or not {"name", "version"} <= set(rule):
            raise click.BadParameter(f"{where} needs name and version", param_hint="--rules-file")
        unknown = sorted(set(rule) - RULE_KEYS) or sorted(set(rule.get("match") or {}) - MATCH_KEYS)
        if unknown:
            raise click.BadParameter(
                f"{where}: unknown key {unknown[0]!r}", param_hint="--rules-file"
            )
        version = VERSION.convert(rule["version"], None, None)
        rules.append(
            {"name": rule["name"], "match": dict(rule.get("match") or {}), "version": version}
        )
    return rules, default, message


def match_text(match: Mapping[str, Any] | None) -> str:
    """A rule's match in `--match` syntax: `labels.zone=a ip=10.0.0.0/8 percent=10`."""
    match = match or {}
    parts = [f"labels.{k}={v}" for k, v in sorted((match.get("labels") or {}).items())]
    parts += [f"ip={c}" for c in match.get("ip_cidrs") or ()]
    parts += [f"client={c}" for c in match.get("client_ids") or ()]
    if match.get("percentage") is not None:
        parts.append(f"percent={number_text(match['percentage'])}")
    return " ".join(parts) or "(every client)"


def rules_summary(release: Mapping[str, Any]) -> str:
    rules = release.get("rules") or []
    return "; ".join(f"{r['name']}→{r['version']} {match_text(r.get('match'))}" for r in rules)


@release.command("set")
@click.argument("name")
@click.option(
    "--default",
    "default",
    type=VERSION,
    help="Version served when no rule matches (number or 'latest').",
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="NAME=VERSION",
    help="Declare a rule; rules are evaluated in the order given.",
)
@click.option(
    "--match",
    "matches",
    multiple=True,
    metavar="NAME:COND",
    help="A condition of rule NAME: labels.K=V, ip=CIDR, client=ID or percent=P.",
)
@click.option(
    "--rules-file",
    metavar="FILE",
    help="Rules in the API's shape (JSON, or YAML with PyYAML); '-' reads stdin.",
)
@click.option(
    "--if-match",
    "if_match",
    type=click.IntRange(min=0),
    metavar="REV",
    help="Only if the current release revision is REV (else exit 4).",
)
@click.option("-m", "--message", default=None, help="Why (stored with the release).")
@click.option("--dry-run", is_flag=True, help="Print the request body; send nothing.")
@global_options  # fmt: skip
def set_release(
    *,
    name: str,
    default: int | str | None,
    rules: tuple[str, ...],
    matches: tuple[str, ...],
    rules_file: str | None,
    if_match: int | None,
    message: str | None,
    dry_run: bool,
) -> None:
    """Release NAME: the default version plus ordered rules for canaries.

    \b
    conflux release set db --default 1 \\
        --rule canary=2 --match canary:labels.zone=a --match canary:percent=10
    """
    ctx = get_ctx()
    file_message = None
    if rules_file is not None:
        if rules or matches:
            raise click.UsageError("--rules-file cannot be combined with --rule/--match")
        parsed, file_default, file_message = rules_from_file(
            load_structured(rules_file, "--rules-file")
        )
        if default is None and file_default is not None:
            default = VERSION.convert(file_default, None, None)
    else:
        parsed = parse_rules(rules, matches)
    if default is None:
        raise click.UsageError("--default is required (or default_version in --rules-file)")
    body: dict[str, Any] = {"rules": parsed, "default_version": default}
    if message or file_message:
        body["message"] = message or file_message
    client, path = ctx.client(), ctx.config_path(name)
    if _mentions_latest(body):
        latest = latest_version(client, path, name)
        body = _pin_latest(body, latest)
    out = ctx.output
    if dry_run:
        out.emit_json(body)
        return
    headers = {"If-Match": str(if_match)} if if_match is not None else None
    result = client.put(path + "/release", body, headers)
    if out.json:
        out.emit_json({**result, "release": body})
    else:
        out.line(
            f"released {name}: revision {result['revision']}, default version "
            f"{body['default_version']}, {len(parsed)} rule(s)"
        )


def _mentions_latest(body: Mapping[str, Any]) -> bool:
    versions = [body["default_version"], *(r["version"] for r in body["rules"])]
    return "latest" in versions


def _pin_latest(body: dict[str, Any], latest: int) -> dict[str, Any]:
    def pin(version: int | str) -> int:
        return latest if version == "latest" else int(version)

    rules = [{**r, "version": pin(r["version"])} for r in body["rules"]]
    return {**body, "rules": rules, "default_version": pin(body["default_version"])}


def print_release(out: Output, name: str, current: Mapping[str, Any]) -> None:
    out.fields(
        [
            ("config", name),
            ("revision", current["revision"]),
            ("default version", current["default_version"]),
            ("author", current.get("author")),
            ("created", current.get("created_at")),
            ("message", current.get("message") or None),
        ]
    )
    rules = current.get("rules") or []
    if rules:
        out.line("")
        out.table(
            ["#", "RULE", "VERSION", "MATCH"],
            (
                [index + 1, r["name"], r["version"], match_text(r.get("match"))]
                for index, r in enumerate(rules)
            ),
        )


@release.command("show")
@click.argument("name")
@global_options
def show(name: str) -> None:
    """The current release of NAME."""
    ctx = get_ctx()
    current = ctx.client().get(ctx.config_path(name) + "/release")
    out = ctx.output
    if out.json:
        out.emit_json(current)
    else:
        print_release(out, name, current)


@release.command("history")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many, newest first (0: all).")  # fmt: skip
@global_options
def history(name: str, limit: int) -> None:
    """Every release of NAME, newest first."""
    ctx = get_ctx()
    items = collect(ctx.client(), ctx.config_path(name) + "/releases", limit or None)
    out = ctx.output
    if out.json:
        out.emit_json(items)
        return
    out.table(
        ["REVISION", "DEFAULT", "RULES", "AUTHOR", "CREATED", "MESSAGE"],
        (
            [i["revision"], i["default_version"], rules_summary(i) or None, i.get("author"),
             i.get("created_at"), i.get("message") or None]
            for i in items
        ),
        empty=f"{name} has never been released",
    )  # fmt: skip


def release_at(client: RestClient, path: str, name: str, revision: int) -> dict[str, Any]:
    page = client.get(path + "/releases", limit="1", after=str(revision + 1))
    items = page["items"]
    if not items or items[0]["revision"] != revision:
        raise CliError(
            "release_not_found", f"{name} has no release revision {revision}", Exit.NOT_FOUND
        )
    found: dict[str, Any] = items[0]
    return found


@release.command("rollback")
@click.argument("name")
@click.option(
    "--to-revision",
    "to_revision",
    type=click.IntRange(min=1),
    metavar="R",
    help="The revision to restore (default: the one before the current).",
)
@click.option("-m", "--message", default=None, help="Why (default: 'rollback to revision R').")
@global_options  # fmt: skip
def rollback(name: str, to_revision: int | None, message: str | None) -> None:
    """Restore an earlier release of NAME as a new revision.

    The rules and default version of revision R are released again (history is kept),
    guarded by If-Match on the current revision.
    """
    ctx = get_ctx()
    client, path = ctx.client(), ctx.config_path(name)
    current = client.get(path + "/release")
    target = to_revision if to_revision is not None else current["revision"] - 1
    if target < 1:
        raise CliError(
            "nothing_to_roll_back",
            f"{name} is at revision {current['revision']}; there is no earlier release",
            Exit.CONFLICT,
        )
    if target == current["revision"]:
        raise CliError(
            "nothing_to_roll_back", f"{name} is already at revision {target}", Exit.CONFLICT
        )
    old = release_at(client, path, name, target)
    body = {
        "rules": old.get("rules") or [],
        "default_version": old["default_version"],
        "message": message or f"rollback to revision {target}",
    }
    result = client.put(path + "/release", body, {"If-Match": str(current["revision"])})
    out = ctx.output
    if out.json:
        out.emit_json({**result, "rolled_back_to": target, "release": body})
    else:
        out.line(
            f"rolled back {name} to revision {target} as revision {result['revision']} "
            f"(default version {body['default_version']}, {len(body['rules'])} rule(s))"
        )
