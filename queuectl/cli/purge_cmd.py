"""queuectl purge [--state completed|dead ...] [--older-than DURATION] [--batch B] [--dry-run]
[--json]: delete finished jobs with their history and output."""

import sys

import typer

from ..errors import UsageError
from .context import options


def register(app: typer.Typer) -> None:
    app.command("purge")(purge)


def purge(
    ctx: typer.Context,
    states: list[str] = typer.Option(None, "--state", metavar="completed|dead",
                                     help="Which finished jobs (repeatable; default completed)."),
    older_than: str = typer.Option("0", "--older-than", metavar="DURATION",
                                   help="Only jobs last updated longer ago: 90s, 12h, 7d."),
    batch: str = typer.Option(None, "--batch", help="Only jobs of this batch."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only count what would go."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Delete finished jobs, with their history and output; never an unfinished one."""
    from ..maintenance.cleaner import purge as purge_jobs
    from ..timeutil import now_ms
    from .context import run_with_store

    chosen = finished_states(states or ["completed"])
    before = now_ms() - round(_duration(older_than) * 1000)
    count = run_with_store(options(ctx).db, lambda store: purge_jobs(
        store, states=chosen, before=before, batch=batch, dry_run=dry_run))
    if json_out:
        from .output import print_json

        print_json({"deleted": count} | ({"dry_run": True} if dry_run else {}))
    else:
        verb = "would be deleted" if dry_run else "deleted"
        sys.stdout.write(f"{count} job{'' if count == 1 else 's'} {verb}\n")


def finished_states(names: list[str]) -> list:
    from ..jobs import FINISHED_STATES, STATES, JobState

    chosen = []
    for name in names:
        if name not in STATES:
            raise UsageError(f"unknown state {name!r} (purge takes completed or dead)")
        if name not in FINISHED_STATES:
            raise UsageError(f"purge never deletes {name} jobs: --state takes completed or dead")
        if JobState(name) not in chosen:
            chosen.append(JobState(name))
    return chosen


def _duration(text: str) -> float:
    from ..durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from None
