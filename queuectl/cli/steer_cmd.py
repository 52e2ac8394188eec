"""cancel, and the printing side of `logs --follow`."""

import sys

import typer

from ..errors import UsageError
from .completion import complete_job_id
from .context import options, run_with_store, with_store
from .flags import QUIET, typer_option
from .output import job_dict, print_json


def register(app: typer.Typer) -> None:
    app.command("cancel")(cancel)


def cancel(
    ctx: typer.Context,
    ids: list[str] = typer.Argument(None, metavar="ID...", help="Jobs to cancel.",
                                    autocompletion=complete_job_id),
    batch: str = typer.Option(None, "--batch", metavar="NAME",
                              help="Every unfinished job of this batch."),
    queue: str = typer.Option(None, "--queue", metavar="NAME",
                              help="Every unfinished job of this queue."),
    wait: bool = typer.Option(False, "--wait", help="Return once every cancelled job has ended."),
    json_out: bool = typer.Option(False, "--json", help="Print the job objects as JSON."),
    quiet: bool = typer_option(QUIET),
) -> None:
    """Stop jobs: waiting ones go to the DLQ at once, running ones are killed by their worker."""
    if sum((bool(ids), batch is not None, queue is not None)) != 1:
        raise UsageError("give job ids, --batch or --queue (exactly one)")
    from ..core.actions import cancel_jobs
    from ..spec import MAX_BATCH_LENGTH, MAX_QUEUE_LENGTH, check_name_flag

    check_name_flag("--batch", batch, MAX_BATCH_LENGTH)
    check_name_flag("--queue", queue, MAX_QUEUE_LENGTH)
    jobs = with_store(ctx, lambda store: cancel_jobs(
        store, ids=list(ids) if ids else None, batch=batch, queue=queue, wait=wait))
    if not jobs:
        which = f"batch {batch!r}" if batch is not None else f"queue {queue!r}"
        sys.stderr.write(f"note: no unfinished job in {which}: nothing to cancel\n")
    for job in jobs:
        if wait and job.state == "completed":
            sys.stderr.write(f"note: job {job.id!r} completed before the cancel reached it\n")
    if json_out and not quiet:
        print_json([job_dict(job) for job in jobs])
    elif not quiet:
        sys.stdout.write("".join(f"{job.id}\n" for job in jobs))


def follow_logs(ctx: typer.Context, job_id: str) -> None:
    """Print the attempt in progress (or the next one) as it is written; return when it ends."""
    from ..follow import Follower

    async def show(store) -> None:
        streams = {1: sys.stdout.buffer, 2: sys.stderr.buffer}
        sys.stdout.flush()
        async for stream, data in Follower(store, job_id).pieces():
            streams[stream].write(data)
            streams[stream].flush()

    run_with_store(options(ctx).db, show)
