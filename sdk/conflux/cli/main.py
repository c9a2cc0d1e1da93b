"""`conflux`: the command-line client of a Conflux cluster.

Every failure ends as one line on stderr, `error: <code>: <message>`, and an exit code
from `conflux.cli.errors.Exit`; a traceback is never shown (set CONFLUX_DEBUG=1 to see
one for an unexpected error).
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

import click

from conflux import __version__
from conflux.cli import admin, auth, cluster, configs, fetch, releases, watch
from conflux.cli.context import CliContext, get_ctx, global_options
from conflux.cli.errors import describe
from conflux.cli.output import Output

PROG = "conflux"


class ConfluxGroup(click.Group):
    """The root group: maps every non-click exception to an error line and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            # `conflux config list | head`: the reader went away; say nothing more.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(1)
        except Exception as error:
            if os.environ.get("CONFLUX_DEBUG"):
                raise
            code, message, exit_code = describe(error)
            obj = ctx.obj if isinstance(ctx.obj, CliContext) else CliContext()
            Output(obj.output.format).error(code, message)
            ctx.exit(int(exit_code))


@click.group(cls=ConfluxGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
@click.version_option(__version__, prog_name=PROG)
def cli() -> None:
    """Conflux: versioned configuration, released gradually, replicated with Raft.

    Settings come from flags, then CONFLUX_* environment variables, then
    ~/.config/conflux/config.toml; the token last from the file `conflux auth login`
    stores. Exit codes: 0 ok, 1 API error, 2 usage error, 3 not found, 4 conflict or
    stale revision, 5 unavailable or rate-limited, 6 unauthenticated or forbidden.
    """
    get_ctx()


cli.add_command(configs.config)
cli.add_command(releases.release)
cli.add_command(fetch.fetch)
cli.add_command(watch.watch)
cli.add_command(cluster.cluster)
cli.add_command(auth.auth)
cli.add_command(admin.admin)


def main() -> None:
    cli.main(prog_name=PROG)


if __name__ == "__main__":
    main()
