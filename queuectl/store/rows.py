"""The job row as both backends read it: one column list, one mapper, one encoding of the
Part 2 fields. A new job column is added here once (EXAMPLES.md, "write the backend-neutral
part once"); only the SQL around it differs by backend.

`env` and `after` are stored as JSON text (NULL when empty: most jobs have neither, and a
NULL costs no bytes and no decoding when a million rows are listed)."""

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..jobs import STATE_NAMED, Job, JobState, NewJob

if TYPE_CHECKING:
    from ..jobs import Schedule

JOB_COLUMN_NAMES = (
    "id", "command", "state", "attempts", "max_retries", "priority", "run_at", "timeout",
    "exit_code", "last_error", "created_at", "updated_at", "worker_id", "started_at", "run_no",
    "queue", "batch", "cwd", "env", "unique_key", "after_ids",
)
JOB_COLUMNS = ", ".join(JOB_COLUMN_NAMES)
# Column positions used by sort keys and paging (rows are JOB_COLUMNS followed by seq).
PRIORITY, RUN_AT, RUN_NO = 5, 6, 14
SEQ = len(JOB_COLUMN_NAMES)
# Fields a NewJob adds to the insert beyond Part 1's, in JOB_COLUMN_NAMES order.
PART2_COLUMNS = ("queue", "batch", "cwd", "env", "unique_key", "after_ids")


def job_from_row(row: Sequence[Any]) -> Job:
    env, after = row[18], row[20]
    return Job(row[0], row[1], STATE_NAMED[row[2]], *row[3:18],
               None if env is None else decode_env(env), row[19],
               () if after is None else decode_after(after))


def encode_env(env: Mapping[str, str] | None) -> str | None:
    if not env:
        return None
    import json

    return json.dumps(dict(env), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode_env(text: str) -> dict[str, str] | None:
    import json  # only rows that carry an env pay for it

    return json.loads(text) or None


def encode_after(after: Sequence[str]) -> str | None:
    if not after:
        return None
    import json

    return json.dumps(list(after), separators=(",", ":"), ensure_ascii=False)


def decode_after(text: str) -> tuple[str, ...]:
    import json

    return tuple(json.loads(text))


def part2_values(job: Any) -> tuple:
    """The Part 2 column values of a NewJob or a Job, in PART2_COLUMNS order."""
    return (job.queue, job.batch, job.cwd, encode_env(job.env), job.unique_key,
            encode_after(job.after))


def claim_order(row: Sequence[Any]) -> tuple:
    """The claim's order (priority DESC, run_at, seq) for a RETURNING, whose order is unspecified."""
    return -row[PRIORITY], row[RUN_AT], row[SEQ]


def inserted_jobs(jobs: Sequence[NewJob], *, default_retries: int, now: int,
                  stored: Mapping[int, Job] | None = None) -> list[Job]:
    """The Job records of freshly inserted jobs, in input order; `stored` gives the record at
    some positions instead (a unique key's holder, a job that died at birth because a
    dependency is dead)."""
    stored = stored or {}
    return [stored.get(i) or inserted_job(
        j, default_retries if j.max_retries is None else j.max_retries,
        now if j.run_at is None else j.run_at, now) for i, j in enumerate(jobs)]


def inserted_job(job: NewJob, max_retries: int, run_at: int, now: int) -> Job:
    return Job(job.id, job.command, JobState.PENDING, 0, max_retries, job.priority, run_at,
               job.timeout, None, None, now, now, None, None, 0, job.queue, job.batch, job.cwd,
               job.env or None, job.unique_key, tuple(job.after))


async def runnable_counts(store: Any, queues: Sequence[str] | None, paused: set[str],
                          one_queue: Any) -> tuple[int, int]:
    """(due or waiting, processing) jobs of `queues` (None: all) that are not paused: what a
    `worker start --drain` serving them could still run, or see fail and retry. All queues
    start from the O(1) totals and subtract the paused ones; a list adds its queues up.
    `one_queue(name)` awaits one queue's (due, processing)."""
    if queues is None:
        counts = await store.count_by_state()
        due, running = counts["pending"] + counts["failed"], counts["processing"]
        sign, chosen = -1, paused
    else:
        due = running = 0
        sign, chosen = 1, set(queues) - paused
    for queue in sorted(chosen):
        queue_due, queue_running = await one_queue(queue)
        due, running = due + sign * queue_due, running + sign * queue_running
    return due, running


# -- schedules: the job template is stored as JSON (only the fields a template may set) ------

TEMPLATE_FIELDS = ("command", "max_retries", "priority", "timeout", "queue", "cwd", "env",
                   "unique_key")


def encode_template(job: NewJob) -> str:
    import json

    fields = job._asdict()
    return json.dumps({k: fields[k] for k in TEMPLATE_FIELDS if fields[k] not in (None, {})},
                      sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def schedule_from_row(row: Sequence[Any]) -> "Schedule":
    import json

    from ..jobs import Schedule

    template = NewJob(id="", **json.loads(row[3]))
    return Schedule(row[0], row[1], row[2], template, *row[4:7])


SCHEDULE_COLUMNS = "name, cron, zone, job, next_run, last_run, created_at"


def schedule_values(schedule: "Schedule") -> tuple:
    """A schedule's row, in SCHEDULE_COLUMNS order."""
    return (schedule.name, schedule.cron, schedule.zone, encode_template(schedule.job),
            schedule.next_run, schedule.last_run, schedule.created_at)
