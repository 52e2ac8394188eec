"""queuectl wait [ID...] [--batch B] [--queue Q] [--timeout DURATION] [--json]."""

import typer

from .context import options


def register(app: typer.Typer) -> None:
    app.command("wait")(wait)


def wait(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(None, metavar="[ID]...", help="Jobs to wait for."),
    batch: str = typer.Option(None, "--batch", help="Every job of this batch."),
    queue: str = typer.Option(None, "--queue", help="The unfinished jobs of this queue."),
    timeout: str = typer.Option(None, "--timeout", metavar="DURATION",
                                help="Give up after this long (exit 124): 90s, 5m, 1h30m."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Block until the jobs are completed or dead: exit 0 (all completed), 3 (some dead),
    124 (timed out). No selection: every job unfinished now."""
    from .flags import seconds_flag
    from .wait_core import run_wait

    seconds = seconds_flag("--timeout", timeout)
    raise typer.Exit(run_wait(options(ctx).db, ids=ids or (), batch=batch, queue=queue,
                              timeout=seconds, json_out=json_out))
