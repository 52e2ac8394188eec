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
# A bulk insert is one statement per run of jobs that share their Part 2 values (an enqueue
# call is one run, unless its documents name their own batch, cwd or env): SQLite parses the
# rows from one JSON text, and the shared values -- the same cwd, env and batch for 100,000
# jobs -- are bound once instead of once a job (benchmarks P4). json_each walks the array in
# order, so seq follows the input. A job whose unique key an unfinished job holds is skipped,
# not an error (`WHERE true` tells the parser that ON CONFLICT is not a join's ON).
INSERT_JOBS = """
INSERT INTO jobs (id, command, state, max_retries, priority, run_at, timeout, created_at,
                  updated_at, queue, batch, cwd, env, unique_key, after_ids, gated)
SELECT value ->> 0, value ->> 1, 'pending', coalesce(value ->> 2, :max_retries),
       coalesce(value ->> 3, 0), coalesce(value ->> 4, :now), value ->> 5,
       :now, :now, :queue, :batch, :cwd, :env, :unique_key, :after, :gated
FROM json_each(:rows) WHERE true
ON CONFLICT (unique_key) WHERE unique_key IS NOT NULL
    AND state IN ('pending', 'failed', 'processing') DO NOTHING
"""
# Schema 2 has no per-row insert trigger (it cost ~12 us a job, half of a bulk enqueue):
# every insert path adds its batch to its queue's pending count in the same transaction.
COUNT_INSERTED = """
INSERT INTO job_counts (queue, state, n) VALUES (?, 'pending', ?)
ON CONFLICT (queue, state) DO UPDATE SET n = n + excluded.n
"""


def recount(conn: sqlite3.Connection) -> None:
    """For paths that insert rows of any state (migrate-store, benchmark prefills): count
    every (queue, state) afresh, inside the caller's transaction."""
    conn.execute("DELETE FROM job_counts")
    conn.execute("INSERT INTO job_counts (queue, state, n) "
                 "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state")


DEFAULT_MAX_RETRIES = "SELECT value FROM config WHERE key = 'max-retries'"


def insert_runs(jobs: Sequence[NewJob], *, now: int, default_retries: int,
                gated: set[str]) -> list[dict]:
    """INSERT_JOBS's parameters, one dict per run of consecutive jobs with equal Part 2 values.
    A job without max_retries takes `default_retries`; run_at defaults to now (NULLs in a row
    take the statement's defaults: a plain job is just [id, command])."""
    import json

    runs: list[dict] = []
    shared, rows, encoded = None, [], {}
    for j in jobs:
        key = (j.queue, j.batch, j.cwd, id(j.env), j.unique_key, tuple(j.after))
        if key != shared:
            rows = []
            runs.append(_run_params(j, rows, encoded) | {"gated": int(j.queue in gated)})
            shared = key
        if j.max_retries is None and not j.priority and j.run_at is None and j.timeout is None:
            rows.append((j.id, j.command))  # the rest from the statement's defaults
        else:
            rows.append((j.id, j.command, j.max_retries, j.priority, j.run_at, j.timeout))
    for run in runs:
        run |= {"rows": json.dumps(run["rows"], ensure_ascii=False, separators=(",", ":")),
                "now": now, "max_retries": default_retries}
    return runs


def _run_params(job: NewJob, rows: list, encoded: dict) -> dict:
    if id(job.env) not in encoded:  # one encoding per env object: a call's jobs share one
        encoded[id(job.env)] = part2_values(job)[3]
    return {"queue": job.queue, "batch": job.batch, "cwd": job.cwd,
            "env": encoded[id(job.env)], "unique_key": job.unique_key,
            "after": part2_values(job)[5] if job.after else None, "rows": rows}


def default_retries(conn: sqlite3.Connection) -> int:
    """Config max-retries, read in the inserting transaction."""
    stored = conn.execute(DEFAULT_MAX_RETRIES).fetchall()
    return Settings.from_stored({"max-retries": stored[0][0]} if stored else {}).max_retries


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
                    now: int) -> tuple[int, list[str], dict[int, Job]]:
    """The enqueue transaction's body: (config max-retries used, worker ids to wake, the jobs
    at some positions as they are now: the holder of a taken unique key, or a job whose
    dependency is already dead). Raises sqlite3.IntegrityError on a duplicate id (the caller
    names it with first_existing), JobNotFoundError on an unknown `after` id."""
    retries, gated = default_retries(conn), flow.gated_queues(conn)
    inserted: dict[str, int] = {}
    for run in insert_runs(jobs, now=now, default_retries=retries, gated=gated):
        before = conn.total_changes
        conn.execute(INSERT_JOBS, run)
        inserted[run["queue"]] = inserted.get(run["queue"], 0) + conn.total_changes - before
    conn.executemany(COUNT_INSERTED, [(queue, n) for queue, n in inserted.items() if n])
    holders = flow.unique_holders(conn, jobs)
    flow.link_dependencies(conn, jobs, holders, now)
    return retries, worker_ids(conn), holders | flow.reread_with_after(conn, jobs, holders)


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
