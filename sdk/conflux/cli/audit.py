"""`conflux admin audit` and `conflux admin audit-retention`: reading the audit log and
setting how long it keeps records."""

from __future__ import annotations

from typing import Any

import click

from conflux.cli.context import get_ctx, global_options
from conflux.cli.params import iso_time

MAX_AUDIT_PAGE = 1000


@click.command("audit")
@click.option("--actor", metavar="ACTOR", help="Only records of this actor, e.g. user:admin.")
@click.option("--since", metavar="ISO", help="Only records at or after this time.")
@click.option(
    "--limit",
    type=click.IntRange(1, MAX_AUDIT_PAGE),
    default=100,
    show_default=True,
    help="Records per page.",
)
@click.option("--all", "fetch_all", is_flag=True, help="Follow the pages to the end.")
@global_options
def audit(
    actor: str | None,
    since: str | None,
    limit: int,
    fetch_all: bool,
) -> None:
    """The audit log, oldest first: time, actor, action, target, outcome.

    --tenant NAME keeps the records of that tenant only (the flag only: CONFLUX_TENANT
    and the config file do not filter). Without --all, one page of --limit records.
    """
    ctx = get_ctx()
    client = ctx.client()
    query: dict[str, str] = {"limit": str(limit)}
    tenant = ctx.options.get("tenant")
    if tenant:
        query["tenant"] = str(tenant)
    if actor:
        query["actor"] = actor
    if since:
        query["since"] = iso_time(since, "--since") or since
    records: list[dict[str, Any]] = []
    cursor: Any = None
    while True:
        page_query = dict(query, after=str(cursor)) if cursor is not None else query
        page = client.get("/api/v1/audit", **page_query)
        items = page.get("items") or []
        records.extend(items)
        cursor = page.get("next")
        if not fetch_all or cursor is None or not items:
            break
    out = ctx.output
    if out.json:
        out.emit_json({"items": records, "next": cursor})
        return
    out.table(
        ["SEQ", "TIME", "ACTOR", "ACTION", "TARGET", "TENANT", "OUTCOME"],
        (
            [r.get("seq"), r.get("time"), r.get("actor"), r.get("action"), r.get("target"),
             r.get("tenant"), r.get("outcome")]
            for r in records
        ),
        empty="no audit records",
    )  # fmt: skip
    if cursor is not None and not fetch_all:
        out.err.print(f"more records: --all, or the API's after={cursor}", style="dim")


@click.command("audit-retention")
@click.option("--keep-last", type=click.IntRange(1, 10**9), help="Keep this many newest records.")
@click.option("--keep-days", type=click.IntRange(1, 36500), help="Drop records older than this.")
@click.option("--keep-all", is_flag=True, help="Lift both limits: keep every record.")
@global_options
def audit_retention(keep_last: int | None, keep_days: int | None, keep_all: bool) -> None:
    """Show how long the audit log keeps records, or set it (system admins).

    Setting replaces both limits: one left out is lifted. Older records are then
    pruned a few with every applied command, on every node alike.
    """
    ctx = get_ctx()
    path = "/api/v1/audit/retention"
    if keep_all and (keep_last or keep_days):
        raise click.UsageError("--keep-all goes alone, without --keep-last or --keep-days")
    changing = keep_all or keep_last is not None or keep_days is not None
    client = ctx.client()
    if changing:
        retention = client.put(path, {"keep_last": keep_last, "keep_days": keep_days})
    else:
        retention = client.get(path)
    out = ctx.output
    if out.json:
        out.emit_json(retention)
        return
    out.fields(
        [
            ("keep last", retention.get("keep_last") or "no limit"),
            ("keep days", retention.get("keep_days") or "no limit"),
        ]
    )
