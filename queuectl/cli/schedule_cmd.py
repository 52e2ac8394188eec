"""schedule add | list | remove: cron runs that every worker enqueues exactly once."""

import sys
from typing import Any

import typer

from ..errors import UsageError
from ..render import schedule_dict
from .context import reading_store, with_store
from .flags import option
from .output import print_json, print_table

app = typer.Typer(no_args_is_help=True)
NOT_IN_A_TEMPLATE = ("id", "batch", "run_at", "delay", "after")  # set per run, or meaningless


@app.command()
def add(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    job: str = typer.Argument(..., metavar="JOB", help="A shell command or a JSON job."),
    cron: str = typer.Option(..., "--cron", metavar="EXPR",
                             help="Five cron fields, or @hourly @daily @weekly @monthly @yearly."),
    tz: str = typer.Option("UTC", "--tz", metavar="ZONE", help="IANA time zone of EXPR."),
    priority: int = option("enqueue", "priority"),
    max_retries: int = option("enqueue", "max_retries"),
    timeout: str = option("enqueue", "timeout"),
    queue: str = option("enqueue", "queue"),
    cwd: str = option("enqueue", "cwd"),
    env: list[str] = option("enqueue", "env"),
    unique_key: str = option("enqueue", "unique_key"),
    json_out: bool = typer.Option(False, "--json", help="Print the schedule as JSON."),
) -> None:
    """Add a schedule: each run enqueues JOB with id NAME@<run time>, in batch NAME."""
    from .. import schedules
    from ..jobs import Schedule
    from ..timeutil import now_ms

    now = now_ms()
    flags = {"priority": priority, "max_retries": max_retries, "timeout": timeout,
             "queue": queue, "cwd": cwd, "env": env, "unique_key": unique_key}
    checked = _name(name)
    expr, first = schedules.validate(cron, tz, now=now)
    schedule = Schedule(checked, expr, tz, _template(job, flags, now), first, None, now)
    with_store(ctx, lambda store: store.add_schedule(schedule))
    if json_out:
        print_json(schedule_dict(schedule))
    else:
        sys.stdout.write(f"schedule {schedule.name}: next run {schedule_dict(schedule)['next_run']}\n")


def _name(name: str) -> str:
    from ..spec import queue_names

    try:
        return queue_names(name, "NAME")[0]
    except UsageError:
        raise UsageError(f"bad schedule name {name!r}: use 1 to 64 of the characters "
                         "A-Z a-z 0-9 _ . : -") from None


def _template(job: str, flags: dict[str, Any], now: int):
    from ..documents import documents_from_arg
    from ..spec import build_jobs
    from .enqueue_core import field_overrides

    documents = documents_from_arg(job)
    if len(documents) != 1:
        raise UsageError("a schedule runs one job: give one command or one JSON object")
    doc = documents[0][1]
    taken = [k for k in NOT_IN_A_TEMPLATE if isinstance(doc, dict) and k in doc]
    if taken:
        raise UsageError(f"a scheduled job cannot set {taken[0]!r} (each run sets id, batch "
                         "and run time itself)")
    (template,) = build_jobs(documents, field_overrides(flags, now=now), now=now)
    return template._replace(id="", batch=None)


@app.command("list")
def list_schedules(ctx: typer.Context,
                   json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout.")
                   ) -> None:
    """Every schedule: cron, zone, next and last run, the job."""
    found = [schedule_dict(s) for s in reading_store(ctx, lambda store: store.list_schedules())]
    if json_out:
        print_json(found)
    elif found:
        print_table(["NAME", "CRON", "ZONE", "NEXT RUN", "LAST RUN", "COMMAND"],
                    [[s["name"], s["cron"], s["zone"], s["next_run"] or "-", s["last_run"] or "-",
                      s["job"]["command"]] for s in found])
    else:
        sys.stderr.write("no schedules\n")


@app.command()
def remove(ctx: typer.Context, name: str = typer.Argument(..., metavar="NAME")) -> None:
    """Remove a schedule (jobs it already enqueued stay)."""
    with_store(ctx, lambda store: store.remove_schedule(name))
    sys.stdout.write(f"removed schedule {name}\n")
