"""worker start | stop | list."""

import sys

import typer

from ..core.actions import stop_workers
from ..core.reading import live_workers, load_settings
from ..errors import QueuectlError
from ..render import worker_dict
from .context import options, reading_store, with_store
from .flags import DURATION_HELP, option, seconds_flag
from .output import print_json, print_table

app = typer.Typer(no_args_is_help=True)


@app.command()
def start(
    ctx: typer.Context,
    count: int = option("worker start", "count"),
    drain: bool = option("worker start", "drain"),
    queue: str = option("worker start", "queue"),
    detach: bool = option("worker start", "detach"),
    log_file: str = option("worker start", "log_file"),
) -> None:
    """Run jobs in the foreground until stopped (SIGINT/SIGTERM or `worker stop`), or in the
    background with --detach."""
    from .worker_core import start_worker

    raise typer.Exit(start_worker(db=options(ctx).db, count=count, drain=drain, queue=queue,
                                  detach=detach, log_file=log_file))


@app.command()
def stop(
    ctx: typer.Context,
    timeout: str = typer.Option("30", "--timeout", metavar="DURATION",
                                help=f"Longest wait for the workers to exit: {DURATION_HELP}."),
    json_out: bool = typer.Option(False, "--json", help="Print the stopped workers as JSON."),
) -> None:
    """Ask every running worker to stop gracefully, and wait for them to exit.

    Prints one line: `2 workers stopped` or `no worker was running`."""
    seconds = seconds_flag("--timeout", timeout)
    asked, left = with_store(ctx, lambda store: stop_workers(store, seconds))
    stopped = [w for w in asked if w.id not in left]
    if json_out:
        print_json([worker_dict(w) for w in stopped])
    elif asked:
        sys.stdout.write(f"{_workers(len(stopped))} stopped\n")
    else:
        sys.stdout.write("no worker was running\n")
    if left:
        from ..durations import format_duration

        raise QueuectlError(f"{_workers(len(left))} still running after "
                            f"{format_duration(seconds)}: "
                            f"{', '.join(sorted(left))}")


def _workers(n: int) -> str:
    return f"{n} worker{'' if n == 1 else 's'}"


@app.command("list")
def list_workers(ctx: typer.Context,
                 json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout.")) -> None:
    """Live workers."""
    from ..timeutil import now_ms

    async def fetch(store):
        return await live_workers(store, await load_settings(store), now_ms())

    workers = [worker_dict(w) for w in reading_store(ctx, fetch)]
    if json_out:
        print_json(workers)
    elif workers:
        print_table(["ID", "PID", "HOST", "CONCURRENCY", "RUNNING", "STARTED", "LAST HEARTBEAT"],
                    [[w["id"], w["pid"], w["host"], w["concurrency"], w["running"],
                      w["started_at"], w["last_heartbeat"]] for w in workers])
    else:
        from ..store import display

        sys.stderr.write(f"no workers running on {display(options(ctx).db)}\n")
