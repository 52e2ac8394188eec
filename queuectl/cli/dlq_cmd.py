"""dlq list | retry."""

import sys

import typer

from ..errors import UsageError
from .completion import complete_dead_id
from .context import reading_store, with_store
from .flags import QUIET, typer_option
from .output import JobListPrinter

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_dead(ctx: typer.Context,
              json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
    """Jobs in the dead letter queue."""
    from ..jobs import JobState

    async def stream(store) -> int:
        printer = JobListPrinter(json_out=json_out)
        async for job in store.iter_jobs(state=JobState.DEAD):
            printer.add(job)
        return printer.finish()

    if not reading_store(ctx, stream) and not json_out:
        sys.stderr.write("the dead letter queue is empty\n")


@app.command()
def retry(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(None, metavar="ID...", help="Dead jobs to run again.",
                                    autocompletion=complete_dead_id),
    all_: bool = typer.Option(False, "--all", help="Retry every dead job."),
    quiet: bool = typer_option(QUIET),
) -> None:
    """Move dead jobs back to pending with attempts reset to 0 (history is kept)."""
    from ..core.actions import retry_dead

    if bool(ids) == all_:
        raise UsageError("give job ids or --all, exactly one")
    retried = with_store(ctx, lambda store: retry_dead(store, None if all_ else ids))
    if not quiet:
        sys.stdout.write("".join(f"{job_id}\n" for job_id in retried))
    if all_ and not retried:
        sys.stderr.write("the dead letter queue is empty\n")
