"""queue list | pause | resume | set: the settings every worker's claim obeys."""

import sys

import typer

from ..core import actions
from ..errors import UsageError
from .context import options, with_store
from .flags import option

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_queues(ctx: typer.Context, json_out: bool = option("queue list", "json_out")) -> None:
    """Every queue that has jobs or settings: paused, limit, jobs per state."""
    from .inspect_core import list_queues as list_core

    list_core(db=options(ctx).db, json_out=json_out)


@app.command()
def pause(ctx: typer.Context, names: list[str] = typer.Argument(..., metavar="NAME...")) -> None:
    """Claim nothing more from these queues on any worker; running jobs finish."""
    chosen = actions.queue_names(names)  # a bad name fails before the store is opened
    with_store(ctx, lambda store: actions.pause_queues(store, chosen, paused=True))
    sys.stdout.write("".join(f"paused {name}\n" for name in chosen))


@app.command()
def resume(ctx: typer.Context, names: list[str] = typer.Argument(..., metavar="NAME...")) -> None:
    """Claim from these queues again."""
    chosen = actions.queue_names(names)  # a bad name fails before the store is opened
    with_store(ctx, lambda store: actions.pause_queues(store, chosen, paused=False))
    sys.stdout.write("".join(f"resumed {name}\n" for name in chosen))


MAX_LIMIT = 1_000_000


@app.command("set")
def set_queue(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME"),
              limit: str = typer.Option(..., "--limit",
                                        help="At most N jobs of the queue running at once "
                                             "across all workers (0 = no limit).")) -> None:
    """Change a queue's settings (the queue need not exist yet)."""
    (chosen,) = actions.queue_names([name])
    value = _limit(limit)
    with_store(ctx, lambda store: store.set_queues([chosen], limit=value))
    sys.stdout.write(f"{chosen}: limit {value or 'none'}\n")


def _limit(text: str) -> int:
    """A string option, so that `--limit -1` reaches this message instead of a parser's."""
    try:
        value = int(text) if text.strip().lstrip("-").isdigit() else None
    except ValueError:
        value = None
    if value is None or not 0 <= value <= MAX_LIMIT:
        raise UsageError(f"--limit must be a whole number from 0 (no limit) to {MAX_LIMIT:,}, "
                         f"got {text!r}")
    return value
