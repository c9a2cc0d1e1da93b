"""`conflux watch NAME...`: follow what a client is served, one line per change.

It long-polls `GET /api/v1/watch`, sending the sha256 it holds of each config; the
first answer is what is served now, later answers are changes. After the first answer,
a lost connection is retried with backoff (across the endpoints given), and nothing is
missed because the node compares against what this command holds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import click
from rich.text import Text

from conflux.cli.context import get_ctx, global_options
from conflux.cli.errors import CliError, Exit
from conflux.cli.output import Output, short_sha, to_json_line
from conflux.cli.params import labels_query, parse_labels
from conflux.rest import ApiError, RestClient

WATCH_PATH = "/api/v1/watch"
SLACK = 10.0  # socket timeout beyond the server's wait
BACKOFF_MIN, BACKOFF_MAX = 0.5, 8.0


def coordinates(names: tuple[str, ...], scope: Callable[[], tuple[str, str, str]]) -> list[str]:
    """NAME or tenant/app/env/NAME -> tenant/app/env/NAME."""
    paths: list[str] = []
    for name in names:
        parts = name.split("/")
        if len(parts) == 4 and all(parts):
            paths.append(name)
        elif len(parts) == 1 and name:
            paths.append("/".join((*scope(), name)))
        else:
            raise click.BadParameter(
                f"{name!r} is not NAME or TENANT/APP/ENV/NAME", param_hint="NAME"
            )
    return list(dict.fromkeys(paths))


def poll_once(
    client: RestClient,
    held: Mapping[str, str],
    client_id: str | None,
    labels: str,
    wait: float,
) -> list[dict[str, Any]]:
    """One long-poll: the updates, or [] when the wait ran out (304)."""
    pairs = [("config", f"{path}:{sha}") for path, sha in held.items()]
    if client_id:
        pairs.append(("client_id", client_id))
    if labels:
        pairs.append(("labels", labels))
    pairs.append(("wait", f"{wait:g}"))
    status, body = client.request("GET", f"{WATCH_PATH}?{urlencode(pairs)}")
    if status == 304 or not body:
        return []
    updates: list[dict[str, Any]] = body.get("updates") or []
    return updates


def render(out: Output, update: Mapping[str, Any]) -> None:
    if out.json:
        out.write(to_json_line(update) + "\n")
        return
    path = "/".join(str(update.get(k)) for k in ("tenant", "app", "env", "name"))
    stamp = datetime.now().astimezone().strftime("%H:%M:%S")
    line = Text(f"{stamp} ", style="dim")
    line.append(path, style="bold")
    if update.get("absent"):
        line.append("  absent (no release, or deleted)", style="yellow")
    else:
        line.append(
            f"  version={update['version']} revision={update['release_revision']}"
            f" rule={update.get('rule') or '-'} sha256={short_sha(update.get('sha256'))}"
        )
    out.line(line)


@click.command("watch")
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@click.option("--client-id", metavar="ID", help="Client identity (sticky percentage rules).")
@click.option("--label", "labels", multiple=True, metavar="K=V", help="Client label (repeatable).")
@click.option(
    "--wait",
    type=click.FloatRange(min=1, max=60),
    default=30.0,
    show_default=True,
    help="Seconds each long-poll waits on the node.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="Exit after this many lines (the first answer included).",
)
@global_options  # fmt: skip
def watch(
    names: tuple[str, ...],
    client_id: str | None,
    labels: tuple[str, ...],
    wait: float,
    count: int | None,
) -> None:
    """Print what NAME... serve to this client now, then a line per change. Ctrl-C stops.

    NAME is a config of the current tenant/app/env, or TENANT/APP/ENV/NAME.
    A config with no release shows nothing until it is released.
    """
    ctx = get_ctx()
    held = dict.fromkeys(coordinates(names, ctx.scope), "")
    label_text = labels_query(parse_labels(labels))
    client = ctx.client(timeout=wait + SLACK)
    out = ctx.output
    seen, connected, delay = 0, False, BACKOFF_MIN
    try:
        while count is None or seen < count:
            try:
                updates = poll_once(client, held, client_id, label_text, wait)
            except ApiError as error:
                if error.code == "route_not_found":
                    raise CliError(
                        "watch_unsupported",
                        "this node has no /api/v1/watch endpoint (upgrade the node)",
                        Exit.NOT_FOUND,
                    ) from None
                if error.status != 503 or not connected:
                    raise
                delay = _retry(out, error.message, delay)
                continue
            except ConnectionError as error:
                if not connected:
                    raise
                delay = _retry(out, str(error), delay)
                continue
            connected, delay = True, BACKOFF_MIN
            for update in updates:
                path = "/".join(str(update.get(k)) for k in ("tenant", "app", "env", "name"))
                held[path] = "" if update.get("absent") else str(update.get("sha256") or "")
                render(out, update)
                seen += 1
                if count is not None and seen >= count:
                    break
    except KeyboardInterrupt:
        return


def _retry(out: Output, reason: str, delay: float) -> float:
    out.warn(f"watch interrupted ({reason}); retrying in {delay:.1f}s")
    time.sleep(delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not crypto
    return min(delay * 2, BACKOFF_MAX)
