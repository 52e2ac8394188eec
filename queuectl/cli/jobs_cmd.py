"""enqueue, list, show, logs, status."""

import sys

import typer

from ..errors import UsageError
from .completion import complete_job_id, complete_state
from .context import options, reading_store
from .flags import option
from .output import print_json, print_table

JSON_FLAG = typer.Option(False, "--json", help="Print JSON on stdout.")


def register(app: typer.Typer) -> None:
    for command in (enqueue, list_jobs, show, logs, status):
        name = "list" if command is list_jobs else command.__name__
        app.command(name=name)(command)


def enqueue(
    ctx: typer.Context,
    job: str = typer.Argument(None, help="A JSON job object (or array), or a plain shell command."),
    file: str = option("enqueue", "file"),
    id: str = option("enqueue", "id"),
    priority: int = option("enqueue", "priority"),
    max_retries: int = option("enqueue", "max_retries"),
    run_at: str = option("enqueue", "run_at"),
    delay: str = option("enqueue", "delay"),
    timeout: str = option("enqueue", "timeout"),
    queue: str = option("enqueue", "queue"),
    batch: str = option("enqueue", "batch"),
    cwd: str = option("enqueue", "cwd"),
    env: list[str] = option("enqueue", "env"),
    unique_key: str = option("enqueue", "unique_key"),
    after: list[str] = option("enqueue", "after"),
    each: str = option("enqueue", "each"),
    wait: bool = option("enqueue", "wait"),
    wait_timeout: str = option("enqueue", "wait_timeout"),
    json_out: bool = option("enqueue", "json_out"),
    quiet: bool = option("enqueue", "quiet"),
) -> None:
    """Add jobs to the queue; prints their ids.

    \b
    queuectl enqueue 'make test'
    queuectl enqueue -p 5 -t 30s -m 1 '{"command": "./build.sh"}'
    queuectl enqueue -d 5m 'poll.sh'            # due in five minutes
    queuectl enqueue -r 23:30 -i nightly 'backup.sh'
    ls *.log | queuectl enqueue --each 'gzip {}'
    """
    from .enqueue_core import enqueue as enqueue_jobs

    code = enqueue_jobs(db=options(ctx).db, job=job, file=file, id=id, priority=priority,
                        max_retries=max_retries, run_at=run_at, delay=delay, timeout=timeout,
                        queue=queue, batch=batch, cwd=cwd, env=env, unique_key=unique_key,
                        after=after, each=each, wait=wait, wait_timeout=wait_timeout,
                        json_out=json_out, quiet=quiet)
    if code:
        raise typer.Exit(code)


def list_jobs(
    ctx: typer.Context,
    state: str = option("list", "state", autocompletion=complete_state),
    limit: int = option("list", "limit"),
    batch: str = option("list", "batch"),
    json_out: bool = option("list", "json_out"),
) -> None:
    """Jobs in enqueue order."""
    from .inspect_core import list_jobs as list_core

    list_core(db=options(ctx).db, state=state, limit=limit, json_out=json_out, batch=batch)


def show(ctx: typer.Context,
         job_id: str = typer.Argument(..., metavar="ID", autocompletion=complete_job_id),
         json_out: bool = JSON_FLAG) -> None:
    """One job with its attempt history."""

    from ..core.reading import job_document

    document = reading_store(ctx, lambda store: job_document(store, job_id))
    if json_out:
        print_json(document)
        return
    for key, value in document.items():
        if key != "history":
            sys.stdout.write(f"{key:<14}{show_value(value)}\n")
    if document["history"]:
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


def logs(ctx: typer.Context,
         job_id: str = typer.Argument(..., metavar="ID", autocompletion=complete_job_id),
         attempt: int = typer.Option(None, "--attempt", "-a",
                                     help="Attempt number (default: latest)."),
         all_: bool = typer.Option(False, "--all",
                                   help="Every attempt, each under a `--- attempt N ---` line."),
         follow: bool = typer.Option(False, "--follow", "-f",
                                     help="Print the running (or next) attempt's output as "
                                          "it is written; exit when it ends.")) -> None:
    """Captured stdout (to stdout) and stderr (to stderr) of an attempt."""
    if attempt is not None and not 1 <= attempt < 2**31:
        raise UsageError(f"--attempt must be between 1 and {2**31 - 1}, got {attempt}")
    if attempt is not None and all_:
        raise UsageError("give --attempt or --all, not both")
    if follow:
        if attempt is not None or all_:
            raise UsageError("--follow shows the attempt in progress: not with --attempt or --all")
        from .steer_cmd import follow_logs

        follow_logs(ctx, job_id)
        return
    from .logs_core import every_attempt, print_all_attempts, write_output

    if all_:
        print_all_attempts(reading_store(ctx, lambda store: every_attempt(store, job_id)))
    else:
        write_output(reading_store(ctx, lambda store: store.output(job_id, attempt)))


def status(ctx: typer.Context, json_out: bool = option("status", "json_out")) -> None:
    """Jobs per state, the DLQ, live workers and recent execution metrics."""
    from .inspect_core import status as status_core

    status_core(db=options(ctx).db, json_out=json_out)
