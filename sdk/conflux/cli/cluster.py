"""`conflux cluster status`: members, roles and Raft positions."""

from __future__ import annotations

import click

from conflux.cli.context import get_ctx, global_options


@click.group()
def cluster() -> None:
    """The Raft cluster."""


@cluster.command("status")
@global_options
def status() -> None:
    """Members with their role, health and Raft position (as the answering node sees it)."""
    ctx = get_ctx()
    report = ctx.client().get("/api/v1/cluster/status")
    out = ctx.output
    if out.json:
        out.emit_json(report)
        return
    leader = report.get("leader")
    members = report.get("members") or []
    out.table(
        ["ID", "ROLE", "HEALTHY", "HTTP", "RAFT", "COMMIT", "APPLIED"],
        (
            [m["id"], m.get("role"), m.get("healthy"), m.get("http"), m.get("address"),
             m.get("commit_index"), m.get("last_applied")]
            for m in members
        ),
    )  # fmt: skip
    healthy = sum(1 for m in members if m.get("healthy"))
    out.line(
        f"leader: {leader or 'none'} · {healthy}/{len(members)} healthy · "
        f"answered by {report.get('self')}",
        style="dim",
    )
