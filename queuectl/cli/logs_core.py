"""`logs`: one attempt's captured output, or every attempt under a header line (`--all`)."""

import sys

from ..jobs import Attempt, Output


async def every_attempt(store, job_id: str) -> list[tuple[Attempt, Output]]:
    """Each finished attempt with its output; an unknown job or one that has not finished an
    attempt is exit 1, as for `logs ID`."""
    history = await store.attempts(job_id)
    if not history:
        await store.output(job_id, None)  # raises: unknown job, or no finished attempt
    return [(a, await store.output(job_id, a.n)) for a in history]


def print_all_attempts(attempts: list[tuple[Attempt, Output]]) -> None:
    ends_line = True
    for attempt, output in attempts:
        sys.stdout.write(("" if ends_line else "\n") + header(attempt) + "\n")
        write_output(output)
        ends_line = not output.stdout or output.stdout.endswith(b"\n")


def header(attempt: Attempt) -> str:
    """`--- attempt 2 (exit 3, 0.005s) ---`, `--- attempt 1 (no exit code, timed out after 2s,
    2.003s) ---`: the error is left out when it only restates the exit code."""
    from ..durations import format_duration

    parts = ["no exit code" if attempt.exit_code is None else f"exit {attempt.exit_code}"]
    if attempt.error and attempt.error != f"exit code {attempt.exit_code}":
        parts.append(attempt.error)
    if attempt.duration is not None:  # to the ms as in `show`; a long one as 1h30m
        d = attempt.duration
        parts.append(f"{d:.3f}s" if d < 60 else format_duration(d))
    return f"--- attempt {attempt.n} ({', '.join(parts)}) ---"


def write_output(output: Output) -> None:
    """stdout to stdout, then stderr to stderr, each flushed, so `2>&1` keeps them in order."""
    sys.stdout.flush()
    sys.stdout.buffer.write(output.stdout)
    sys.stdout.buffer.flush()
    sys.stderr.buffer.write(output.stderr)
    sys.stderr.buffer.flush()
