"""Enqueue on SQLite without asyncio: the one-shot `queuectl enqueue` path, where start-up time
is most of the cost (see benchmarks P4/P5). Same SQL and rows as SqliteStore.insert_jobs."""

import sqlite3
from pathlib import Path

from ..errors import DuplicateJobError, StoreError
from ..jobs import Job, NewJob
from . import doorbell
from .sqlite_schema import describe, open_sync
from .sqlite_sql import (
    COUNT_INSERTED,
    DEFAULT_MAX_RETRIES,
    INSERT_JOB,
    duplicate_message,
    insert_rows,
    inserted_job,
)


def insert_jobs(path: Path, jobs: list[NewJob], *, now: int) -> list[Job]:
    """All or nothing, in one transaction; jobs without max_retries take config max-retries."""
    conn = open_sync(path)
    try:
        conn.execute("BEGIN IMMEDIATE")
        stored = conn.execute(DEFAULT_MAX_RETRIES).fetchall()
        rows = insert_rows(jobs, now=now, stored_max_retries=stored)
        try:
            conn.executemany(INSERT_JOB, rows)
        except sqlite3.IntegrityError:
            conn.execute("ROLLBACK")
            raise DuplicateJobError(_first_existing(conn, [j.id for j in jobs])) from None
        conn.execute(COUNT_INSERTED, (len(rows),))
        workers = [r[0] for r in conn.execute("SELECT id FROM workers")]
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(describe(exc, path)) from None
    finally:
        conn.close()
    doorbell.ring(str(path), workers)
    return [inserted_job(row) for row in rows]


def _first_existing(conn: sqlite3.Connection, ids: list[str]) -> str:
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        row = conn.execute(f"SELECT id FROM jobs WHERE id IN ({marks})", chunk).fetchone()
        if row:
            return duplicate_message(row[0])
    return duplicate_message(None)
