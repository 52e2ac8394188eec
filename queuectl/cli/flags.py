"""The one table of flags of the commands both front doors parse (`enqueue`, `status`, `list`,
`queue list`, `worker start`): the typer app builds its options from it, the lean parser (lean.py) its
dispatch, so the two cannot accept different forms. tests/unit/test_flags.py parses every form
with both and compares. Typer-free at import: the lean door must not pay for typer.
"""

from typing import Any, NamedTuple

TEXT, INT, SWITCH, MANY = "text", "int", "switch", "many"  # MANY: repeatable, values add up
DURATION_HELP = "seconds, or e.g. 500ms, 90s, 5m, 1h30m, 7d"


class Flag(NamedTuple):
    name: str  # the keyword the command function (and its core function) receives
    forms: tuple[str, ...]  # the long form first
    kind: str  # TEXT, INT, SWITCH or MANY (durations and times are TEXT: parsed by the core)
    help: str
    metavar: str | None = None


JSON = Flag("json_out", ("--json",), SWITCH, "Print JSON on stdout.")
QUIET = Flag("quiet", ("--quiet", "-q"), SWITCH, "Print nothing on stdout (ids included).")

FLAGS: dict[str, tuple[Flag, ...]] = {
    "enqueue": (
        Flag("file", ("--file", "-f"), TEXT,
             "Enqueue many: JSON, array or JSON Lines; - = stdin.", "PATH"),
        Flag("id", ("--id", "-i"), TEXT, "Job id (generated when absent).", "ID"),
        Flag("priority", ("--priority", "-p"), INT, "Higher runs first."),
        Flag("max_retries", ("--max-retries", "-m"), INT, "Retries after the first attempt."),
        Flag("run_at", ("--run-at", "-r"), TEXT,
             "When it becomes due: ISO-8601 (2026-12-24T18:00:00Z), a time of day in the "
             "local zone (23:30, 11:30pm: the next one), or +DURATION from now (+15m).", "WHEN"),
        Flag("delay", ("--delay", "-d"), TEXT, f"Due after this long: {DURATION_HELP}.",
             "DURATION"),
        Flag("timeout", ("--timeout", "-t"), TEXT,
             f"Longest an attempt may run: {DURATION_HELP}.", "DURATION"),
        Flag("queue", ("--queue",), TEXT, "Queue name (default: default).", "NAME"),
        Flag("batch", ("--batch",), TEXT, "Batch name (default: a new batch id).", "NAME"),
        Flag("cwd", ("--cwd",), TEXT, "Absolute directory to run in (default: here).", "DIR"),
        Flag("env", ("--env",), MANY, "Add to the job's environment (repeatable).",
             "NAME=VALUE"),
        Flag("unique_key", ("--unique-key",), TEXT,
             "Enqueue nothing while a job with this key is unfinished.", "KEY"),
        Flag("after", ("--after",), MANY, "Run only once job ID completed (repeatable).", "ID"),
        Flag("each", ("--each",), TEXT, "One job per line of --file or stdin: {} = the line "
             "(shell-quoted), {#} = its number.", "TEMPLATE"),
        Flag("wait", ("--wait",), SWITCH, "Then wait for the jobs, as `queuectl wait` does."),
        Flag("wait_timeout", ("--wait-timeout",), TEXT,
             f"With --wait: give up after this long (exit 124): {DURATION_HELP}.", "DURATION"),
        JSON,
        QUIET,
    ),
    "status": (JSON,),
    "list": (
        Flag("state", ("--state", "-s"), TEXT, "Only jobs in this state.", "STATE"),
        Flag("limit", ("--limit", "-n"), INT, "At most this many jobs."),
        Flag("batch", ("--batch",), TEXT, "Only jobs of this batch.", "NAME"),
        JSON,
    ),
    "queue list": (JSON,),
    "worker start": (
        Flag("count", ("--count", "--concurrency", "-c"), INT,
             "Concurrent jobs (default: config worker-count)."),
        Flag("drain", ("--drain",), SWITCH, "Exit once nothing is left to run."),
        Flag("queue", ("--queue",), TEXT, "Serve only these queues (default: all).", "A,B"),
        Flag("detach", ("--detach",), SWITCH,
             "Run in the background (own session); return once the worker is registered."),
        Flag("log_file", ("--log-file",), TEXT, "With --detach: append the worker's output "
             "here (default: beside an SQLite store, or $XDG_STATE_HOME/queuectl/worker.log).",
             "PATH"),
    ),
}


def flag(command: str, name: str) -> Flag:
    return next(f for f in FLAGS[command] if f.name == name)


def option(command: str, name: str, **extra: Any) -> Any:
    """The typer Option of a flag of the table (`extra`: e.g. autocompletion)."""
    return typer_option(flag(command, name), **extra)


def typer_option(spec: Flag, **extra: Any) -> Any:
    """Also for a shared flag on commands outside the table (QUIET on `dlq retry`)."""
    import typer

    default = False if spec.kind == SWITCH else None
    return typer.Option(default, *spec.forms, help=spec.help, metavar=spec.metavar, **extra)


def seconds_flag(form: str, text: str | None) -> float | None:
    """A duration flag's value in seconds; a bad one is exit 2 naming the flag."""
    if text is None:
        return None
    from ..durations import parse_duration
    from ..errors import UsageError

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise UsageError(f"{form}: {exc}") from None
