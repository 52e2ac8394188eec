"""SQL and row mapping shared by the aiosqlite store and the lean synchronous paths."""

import sqlite3
from collections.abc import Callable, Sequence
from typing import TypeVar

from ..jobs import Job, NewJob
from ..settings import Settings
from . import sqlite_flow as flow
from .rows import JOB_COLUMNS, job_from_row, part2_values

__all__ = ["JOB_COLUMNS", "job_from_row"]  # re-exported: the SQLite modules import them here

T = TypeVar("T")

WORKER_COLUMNS = "id, pid, host, concurrency, started_at, heartbeat_at, running, stop_requested"
INSERT_JOB = (
    "INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, "
    "created_at, updated_at, queue, batch, cwd, env, unique_key, after_ids, gated) "
    "VALUES (?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    # a job whose unique key is held by an unfinished job is skipped, not an error
    "ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL "
    "AND state IN ('pending', 'failed', 'processing') DO NOTHING"
)
# Schema 2 has no per-row insert trigger (it cost ~12 us a job, half of a bulk enqueue):
# every insert path adds its batch to the pending count in the same transaction.
COUNT_INSERTED = "UPDATE job_counts SET n = n + ? WHERE state = 'pending'"
# Paths that insert rows of any state (migrate-store, benchmark prefills) recount instead.
RECOUNT = "UPDATE job_counts SET n = (SELECT count(*) FROM jobs WHERE jobs.state = job_counts.state)"
DEFAULT_MAX_RETRIES = "SELECT value FROM config WHERE key = 'max-retries'"


def insert_rows(jobs: Sequence[NewJob], *, now: int, stored_max_retries: list) -> list[tuple]:
    """Column values for INSERT_JOB. A job without max_retries takes config max-retries (the
    rows of DEFAULT_MAX_RETRIES, read in the inserting transaction); run_at defaults to now."""
    default = Settings.from_stored(
        {"max-retries": stored_max_retries[0][0]} if stored_max_retries else {}).max_retries
    return [(j.id, j.command, default if j.max_retries is None else j.max_retries, j.priority,
             now if j.run_at is None else j.run_at, j.timeout, now, now, *part2_values(j))
            for j in jobs]


def write_transaction(conn: sqlite3.Connection, body: Callable[[sqlite3.Connection], T]) -> T:
    """body(conn) in one BEGIN IMMEDIATE transaction: the write lock is taken up front, so a
    transaction that reads first never deadlocks upgrading its lock. Synchronous: the caller
    runs it on the store's own thread, or in a one-shot command."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # a failed COMMIT too: never leave the connection inside one
            conn.execute("ROLLBACK")
        raise
    return result


def insert_new_jobs(conn: sqlite3.Connection, *, jobs: Sequence[NewJob],
                    now: int) -> tuple[list[tuple], list[str], dict[int, Job]]:
    """The enqueue transaction's body: (rows given to INSERT_JOB, worker ids to wake, the jobs
    at some positions as they are now: the holder of a taken unique key, or a job whose
    dependency is already dead). Raises sqlite3.IntegrityError on a duplicate id (the caller
    names it with first_existing), JobNotFoundError on an unknown `after` id."""
    rows = insert_rows(jobs, now=now, stored_max_retries=conn.execute(DEFAULT_MAX_RETRIES).fetchall())
    gated = flow.gated_queues(conn)
    rows = [(*row, int(job.queue in gated)) for row, job in zip(rows, jobs, strict=True)]
    before = conn.total_changes
    conn.executemany(INSERT_JOB, rows)
    conn.execute(COUNT_INSERTED, (conn.total_changes - before,))
    holders = flow.unique_holders(conn, jobs)
    flow.link_dependencies(conn, jobs, holders, now)
    return rows, worker_ids(conn), holders | flow.reread_with_after(conn, jobs, holders)


def worker_ids(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT id FROM workers")]


def first_existing(conn: sqlite3.Connection, ids: list[str]) -> str:
    """The duplicate-id message, naming the first of `ids` already in the store."""
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        row = conn.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", chunk).fetchone()
        if row:
            return duplicate_message(row[0])
    return duplicate_message(None)


def duplicate_message(job_id: str | None) -> str:
    if job_id is None:
        return "a job with this id already exists"
    return f"a job with id {job_id!r} already exists"
