"""`queuectl tui`: the full-screen terminal UI (queuectl/tui/, the optional `tui` extra)."""

import typer

from .context import options


def tui(ctx: typer.Context) -> None:
    """Full-screen terminal UI: live counts and workers, jobs, DLQ, queues, config, actions
    (needs the optional `tui` extra; without it: exit 1 and the pip line to install it)."""
    from ..tui import run

    raise typer.Exit(run(options(ctx).db))
