"""enqueue, list, show, logs, status."""

import sys

import typer

from ..errors import UsageError
from .context import options, reading_store
from .output import (
    attempt_dict,
    job_dict,
    print_json,
    print_table,
)

JSON_FLAG = typer.Option(False, "--json", help="Print JSON on stdout.")


def register(app: typer.Typer) -> None:
    for command in (enqueue, list_jobs, show, logs, status):
        name = "list" if command is list_jobs else command.__name__
        app.command(name=name)(command)


def enqueue(
    ctx: typer.Context,
    job: str = typer.Argument(None, help="A JSON job object (or array), or a plain shell command."),
    file: str = typer.Option(None, "--file", "-f",
                             help="Enqueue many: JSON, array or JSON Lines; - = stdin."),
    id: str = typer.Option(None, "--id", help="Job id (generated when absent)."),
    max_retries: int = typer.Option(None, "--max-retries", help="Retries after the first attempt."),
    priority: int = typer.Option(None, "--priority", help="Higher runs first."),
    run_at: str = typer.Option(None, "--run-at", help="ISO-8601 time with offset or Z."),
    delay: float = typer.Option(None, "--delay", help="Seconds from now."),
    timeout: float = typer.Option(None, "--timeout", help="Seconds an attempt may run."),
    queue: str = typer.Option(None, "--queue", help="Queue name (default: default)."),
    batch: str = typer.Option(None, "--batch", help="Batch name (default: a new batch id)."),
    cwd: str = typer.Option(None, "--cwd", help="Absolute directory to run in (default: here)."),
    env: list[str] = typer.Option(None, "--env", metavar="NAME=VALUE",
                                  help="Add to the job's environment (repeatable)."),
    unique_key: str = typer.Option(None, "--unique-key",
                                   help="Enqueue nothing while a job with this key is unfinished."),
    after: list[str] = typer.Option(None, "--after", metavar="ID",
                                    help="Run only once job ID completed (repeatable)."),
    json_out: bool = JSON_FLAG,
) -> None:
    """Add jobs to the queue; prints their ids."""
    from .enqueue_core import enqueue as enqueue_jobs

    overrides = {"id": id, "max_retries": max_retries, "priority": priority,
                 "run_at": run_at, "delay": delay, "timeout": timeout, "queue": queue,
                 "batch": batch, "cwd": cwd, "env": env, "unique_key": unique_key,
                 "after": after}
    enqueue_jobs(db=options(ctx).db, job=job, file=file, overrides=overrides, json_out=json_out)


def list_jobs(
    ctx: typer.Context,
    state: str = typer.Option(None, "--state", "-s", help="Only jobs in this state."),
    limit: int = typer.Option(None, "--limit", "-n", help="At most this many jobs."),
    json_out: bool = JSON_FLAG,
) -> None:
    """Jobs in enqueue order."""
    from .inspect_core import list_jobs as list_core

    list_core(db=options(ctx).db, state=state, limit=limit, json_out=json_out)


def show(ctx: typer.Context, job_id: str = typer.Argument(..., metavar="ID"),
         json_out: bool = JSON_FLAG) -> None:
    """One job with its attempt history."""

    async def fetch(store):
        return await store.get_job(job_id), await store.attempts(job_id)

    job, history = reading_store(ctx, fetch)
    document = job_dict(job) | {"history": [attempt_dict(a) for a in history]}
    if json_out:
        print_json(document)
        return
    for key, value in document.items():
        if key != "history":
            sys.stdout.write(f"{key:<14}{show_value(value)}\n")
    if history:
        sys.stdout.write("\n")
        rows = [[a["attempt"], a["started_at"], a["finished_at"] or "-",
                 "-" if a["exit_code"] is None else a["exit_code"],
                 "-" if a["duration"] is None else f"{a['duration']:.3f}s", a["error"] or "-"]
                for a in document["history"]]
        print_table(["#", "STARTED", "FINISHED", "EXIT", "DURATION", "ERROR"], rows)


def show_value(value) -> str:
    """A job field as `show` prints it: env as NAME=VALUE words, after as ids, none as -."""
    import shlex

    if isinstance(value, dict):
        return " ".join(f"{k}={shlex.quote(v)}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return " ".join(value) or "-"
    return "-" if value is None else str(value)


def logs(ctx: typer.Context, job_id: str = typer.Argument(..., metavar="ID"),
         attempt: int = typer.Option(None, "--attempt", "-a",
                                     help="Attempt number (default: latest).")) -> None:
    """Captured stdout (to stdout) and stderr (to stderr) of an attempt."""
    if attempt is not None and not 1 <= attempt < 2**31:
        raise UsageError(f"--attempt must be between 1 and {2**31 - 1}, got {attempt}")
    output = reading_store(ctx, lambda store: store.output(job_id, attempt))
    sys.stdout.flush()
    sys.stdout.buffer.write(output.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(output.stderr)
    sys.stderr.buffer.flush()


def status(ctx: typer.Context, json_out: bool = JSON_FLAG) -> None:
    """Jobs per state, the DLQ, live workers and recent execution metrics."""
    from .inspect_core import status as status_core

    status_core(db=options(ctx).db, json_out=json_out)
