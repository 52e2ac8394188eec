"""worker start | stop | list."""

import sys

import typer

from ..errors import UsageError
from .context import load_settings, options, reading_store, with_store
from .inspect_core import live_workers
from .output import print_json, print_table, worker_dict

app = typer.Typer(no_args_is_help=True)


@app.command()
def start(
    ctx: typer.Context,
    count: int = typer.Option(None, "--count", "--concurrency", "-c",
                              help="Concurrent jobs (default: config worker-count)."),
    drain: bool = typer.Option(False, "--drain", help="Exit once nothing is left to run."),
) -> None:
    """Run jobs in the foreground until stopped (SIGINT/SIGTERM or `worker stop`)."""
    from .worker_core import start_worker

    raise typer.Exit(start_worker(db=options(ctx).db, count=count, drain=drain))


@app.command()
def stop(ctx: typer.Context, timeout: float = typer.Option(
        30.0, "--timeout", help="Seconds to wait for the workers to exit.")) -> None:
    """Ask every running worker to stop gracefully, and wait for them to exit."""
    if timeout < 0:
        raise UsageError("--timeout must be >= 0")
    asked, left = with_store(ctx, lambda store: _stop_all(store, timeout))
    if not asked:
        sys.stdout.write("no workers running\n")
    elif not left:
        sys.stdout.write(f"stopped {len(asked)} worker(s): {', '.join(asked)}\n")
    else:
        sys.stdout.write(f"asked {len(asked)} worker(s) to stop; "
                         f"{len(left)} still running after {timeout:g}s: {', '.join(left)}\n")
        raise typer.Exit(1)


async def _stop_all(store, timeout: float) -> tuple[list[str], list[str]]:
    import asyncio
    import time

    from ..timeutil import now_ms

    settings = await load_settings(store)
    live = {w.id for w in await live_workers(store, settings, now_ms())}
    await store.request_stop()
    deadline = time.monotonic() + timeout
    left = live
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = live & {w.id for w in await live_workers(store, settings, now_ms())}
    return sorted(live), sorted(left)


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
