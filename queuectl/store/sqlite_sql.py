"""SQL and row mapping shared by the aiosqlite store and the lean synchronous enqueue path."""

from collections.abc import Sequence
from typing import Any

from ..jobs import Job, JobState, NewJob

JOB_COLUMNS = (
    "id, command, state, attempts, max_retries, priority, run_at, timeout, exit_code, "
    "last_error, created_at, updated_at, worker_id, started_at, run_no"
)
WORKER_COLUMNS = "id, pid, host, concurrency, started_at, heartbeat_at, running, stop_requested"
INSERT_JOB = (
    "INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, "
    "created_at, updated_at) VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?)"
)


def job_from_row(row: Sequence[Any]) -> Job:
    return Job(row[0], row[1], JobState(row[2]), *row[3:15])


def insert_params(job: NewJob, now: int) -> tuple:
    """Column values for INSERT_JOB; max_retries was filled from config by the caller."""
    run_at = now if job.run_at is None else job.run_at
    return (job.id, job.command, job.max_retries, job.priority, run_at, job.timeout, now, now)


def inserted_job(row: tuple) -> Job:
    job_id, command, max_retries, priority, run_at, timeout, now, _ = row
    return Job(job_id, command, JobState.PENDING, 0, max_retries, priority, run_at, timeout,
               None, None, now, now)


def duplicate_message(job_id: str | None) -> str:
    if job_id is None:
        return "a job with this id already exists"
    return f"a job with id {job_id!r} already exists"
