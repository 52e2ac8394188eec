"""`queuectl tui`: the full-screen terminal UI (queuectl/tui/, the optional `tui` extra)."""

import typer

from .context import options


def tui(ctx: typer.Context) -> None:
    """Full-screen terminal UI: live counts and workers, jobs, DLQ, config, actions
    (needs the tui extra: pip install 'queuectl[tui]'). Exit 1 without it."""
    from ..tui import run

    raise typer.Exit(run(options(ctx).db))
